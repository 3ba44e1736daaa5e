import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseFleetYaml } from "../topology/load.ts";
import { fleetCredentials } from "./fleet-credentials.ts";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-key-"));
after(() => rm(dir, { recursive: true, force: true }));

const external = (credentialsFile: string) =>
  parseFleetYaml(
    `objectStore:\n  endpoint: s3.example.com:443\n  credentialsFile: ${credentialsFile}\nclusters:\n  - name: mgmt\n    role: observer\n  - name: biz1\n    role: workload\n`,
    join(dir, "fleet.yaml"),
  );

test("an external object store's key comes from its credentials file, relative to fleet.yaml", async () => {
  await writeFile(join(dir, "s3.yaml"), "access_key: AKIA-user\nsecret_key: user-secret\n");
  const creds = await fleetCredentials(external("s3.yaml"), join(dir, "state-a"));
  assert.deepEqual(creds.thanos, { accessKey: "AKIA-user", secretKey: "user-secret" });
  assert.ok(creds.grafana.password.length >= 16, "the other credentials are still generated");
});

test("a credentials file without both keys is refused with the file and the fix", async () => {
  await writeFile(join(dir, "half.yaml"), "access_key: AKIA-user\n");
  await assert.rejects(fleetCredentials(external("half.yaml"), join(dir, "state-b")), (e: Error) => {
    assert.match(e.message, /half\.yaml lacks access_key or secret_key; add both/);
    return true;
  });
});

test("without an external object store, Thanos gets the generated bucket-scoped key", async () => {
  const topology = parseFleetYaml(
    "clusters:\n  - name: mgmt\n    role: observer\n  - name: biz1\n    role: workload\n  - name: minio\n    role: storage\n",
    "fleet.yaml",
  );
  const creds = await fleetCredentials(topology, join(dir, "state-c"));
  assert.match(creds.thanos.accessKey, /^thanos-/);
});
