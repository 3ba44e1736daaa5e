import assert from "node:assert/strict";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../../testing/tempdir.ts";
import { binariesFor, isBinaryName } from "../../binaries/catalog.ts";
import { binaryPath } from "../../binaries/resolve.ts";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../render/testdata/fixtures.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { missingBinaries } from "./binaries.ts";
import { type ProcessPlan, planLocalFleet } from "./processes.ts";

const planned = (binary: ProcessPlan["binary"]) => ({ binary }) as ProcessPlan;

test("missing: pinned binaries neither configured, nor on PATH at their version, nor cached", async () => {
  const root = await tempDir("tf-missing-");
  const env = { PATH: join(root, "path"), THANOS_FLEET_CACHE: join(root, "cache") };
  const cached = binaryPath("prometheus", env);
  await mkdir(dirname(cached), { recursive: true });
  await writeFile(cached, "#!/bin/sh\necho 'prometheus, version 3.14.0 (x)'\n");
  await chmod(cached, 0o755);
  const topology = parseFleet({ ...DEFAULT_FLEET, binaries: { thanos: "/opt/thanos" } }, "test");
  const processes = ["thanos", "prometheus", "alertmanager", "haproxy", "node"].map((b) =>
    planned(b as ProcessPlan["binary"]),
  );
  assert.deepEqual(await missingBinaries(topology, processes, env), ["alertmanager"]);
});

test("what `npm run setup` installs (--for fleet) is what the local fleet runs; the tests' binaries it never runs", () => {
  const creds = {
    minioRoot: { user: "root-test", password: "root-password-test" },
    thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
    grafana: { user: "admin", password: "grafana-test" },
  };
  const options = { subnet: "127.77", blockDuration: "1m", bucketSyncInterval: "5s" };
  const run = new Set<string>();
  const topology = parseFleet(DEFAULT_FLEET, "test");
  for (const p of planLocalFleet(
    topology,
    creds,
    "/state",
    options,
    FAKE_GRPC_TLS,
    FAKE_HTTP_TLS,
    FAKE_S3_TLS,
  ).processes)
    run.add(p.binary);
  const pinned = [...run].filter(isBinaryName).sort();
  assert.deepEqual(pinned, binariesFor("fleet").sort());
  for (const name of binariesFor("tests")) assert.ok(!run.has(name), name);
});
