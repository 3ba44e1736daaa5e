// The query benchmark's storage: the storage cluster's SeaweedFS behind its load balancer, as the fleet runs it (S3
// over HTTPS from the fleet CA when tls.s3 is on), with the fleet's bucket made over the same protocol.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isExecutableFile } from "../../src/binaries/cache.ts";
import { binaryPath } from "../../src/binaries/resolve.ts";
import { tempDir } from "../tempdir.ts";

// Before the bench modules load: they read their subnet once.
process.env.THANOS_FLEET_BENCH_QUERY_SUBNET ??= process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.86";
const { planBenchFleet, startStorage } = await import("../../bench/lib/fleet.ts");
const { S3Client, s3HttpClient } = await import("../../src/net/s3.ts");

const weed = binaryPath("weed");
const skip = isExecutableFile(weed) ? false : `weed not built at ${weed}: run npm run binaries -- weed`;

test(
  "startStorage makes the fleet's bucket over the storage cluster's HTTPS",
  { skip, timeout: 180_000 },
  async () => {
    const fleet = await planBenchFleet(await tempDir("bench-storage-"));
    const tls = fleet.plan.objectStoreTls;
    assert.ok(tls, "the default fleet serves S3 over HTTPS");
    const storage = await startStorage(fleet);
    try {
      const { endpoint, bucket } = fleet.plan.objectStore;
      const s3 = new S3Client(
        {
          url: `https://${endpoint}`,
          bucket,
          accessKey: fleet.creds.minioRoot.user,
          secretKey: fleet.creds.minioRoot.password,
        },
        s3HttpClient(tls, 5_000),
      );
      await s3.headBucket();
    } finally {
      await storage.stop();
    }
  },
);
