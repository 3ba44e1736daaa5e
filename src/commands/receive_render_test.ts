// `render` of a fleet with a receive-mode cluster writes what Kubernetes deploys for it; what cannot work (a
// remote-write endpoint without the fleet CA's mutual TLS) is still refused at its line, before anything is written.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../topology/errors.ts";
import { parseFleetYaml } from "../topology/load.ts";
import { renderCommand } from "./render.ts";

const YAML = `clusters:
  - name: mgmt
    role: observer
  - name: biz1
    role: workload
    mode: receive
  - name: minio
    role: storage
`;

test("render writes a receive-mode fleet: routers and ingesters on mgmt, the writer's remote write in its values", async () => {
  const topology = parseFleetYaml(YAML, "fleet.yaml");
  const dir = await mkdtemp(join(tmpdir(), "receive-render-"));
  try {
    const out = join(dir, "out");
    await renderCommand(topology, { out, stateDir: join(dir, "state") });
    const mgmt = await readFile(join(out, "mgmt", "manifests.yaml"), "utf8");
    assert.match(mgmt, /kind: Deployment\nmetadata:\n {2}name: thanos-receive-router\n/);
    assert.match(mgmt, /kind: StatefulSet\nmetadata:\n {2}name: thanos-receive-ingester\n/);
    const values = await readFile(join(out, "biz1", "values-kube-prometheus-stack.yaml"), "utf8");
    assert.match(values, /remoteWrite:\n\s+- url: https:\/\/\$\{NODE_IP_MGMT\}:30907\/api\/v1\/receive\n/);
    assert.match(values, /THANOS-TENANT: biz1/);
    assert.doesNotMatch(values, /objectStorageConfig/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a receive-mode cluster without tls.grpc is refused at its line as fleet.yaml is read, before render or up", () => {
  assert.throws(
    () => parseFleetYaml(`${YAML}tls: { grpc: false }\n`, "fleet.yaml"),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /^fleet\.yaml:6: clusters\[1\]\.mode: is receive while tls\.grpc is false/);
      assert.match(error.message, /remove tls\.grpc: false, or set this cluster's mode to sidecar/);
      return true;
    },
  );
});
