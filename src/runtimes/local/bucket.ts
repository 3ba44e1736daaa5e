// Prepares the storage cluster's SeaweedFS for Thanos: the fleet's bucket, and the second bucket verify uses to prove
// Thanos's key is scoped, both created through the S3 API with the admin identity. The identities themselves are in
// SeaweedFS's config file, written before it started.
import { setTimeout as sleep } from "node:timers/promises";
import type { ObjectStoreAccess } from "../../components/context.ts";
import { HttpError } from "../../net/http.ts";
import { S3Client, S3Error, s3HttpClient } from "../../net/s3.ts";

export interface BucketSetup {
  /** host:port of the S3 API as the other clusters reach it. */
  endpoint: string;
  objectStore: ObjectStoreAccess;
  admin: { accessKey: string; secretKey: string };
  /** Buckets to create besides the fleet's. */
  extraBuckets: string[];
  /** With the storage cluster's HTTPS: the CA and name its certificate is verified with. */
  tls?: { ca: string; serverName: string };
}

/** Creates the buckets (a second run finds them); resolves to a line per bucket, or rejects with the last answer. */
export async function prepareBuckets(
  setup: BucketSetup,
  signal: AbortSignal,
  timeoutMs = 60_000,
): Promise<string[]> {
  const admin = new S3Client(
    {
      url: `${setup.tls ? "https" : "http"}://${setup.endpoint}`,
      bucket: setup.objectStore.bucket,
      ...setup.admin,
    },
    s3HttpClient(setup.tls ?? {}, 5_000),
  );
  const lines: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (const bucket of [setup.objectStore.bucket, ...setup.extraBuckets]) {
    for (;;) {
      try {
        const created = await admin.forBucket(bucket).createBucket();
        lines.push(created ? `created bucket ${bucket}` : `bucket ${bucket} exists`);
        break;
      } catch (error) {
        // The S3 gateway answers before its filer has joined the master: retry while the server settles.
        const settling =
          error instanceof HttpError ||
          (error instanceof S3Error && (error.status >= 500 || error.status === 503));
        if (!settling || Date.now() > deadline) {
          throw new Error(
            `creating bucket ${bucket} at ${setup.endpoint} with the admin identity failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await sleep(250, undefined, { signal });
      }
    }
  }
  return lines;
}
