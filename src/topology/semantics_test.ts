import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseFleet } from "./load.ts";
import { clusterNodePorts, workloadNodePort } from "./semantics.ts";

function workloads(replicas: number) {
  const topology = parseFleet(
    {
      clusters: [
        { name: "mgmt", role: "observer" },
        { name: "biz1", role: "workload", prometheus: { replicas } },
        { name: "biz2", role: "workload", mode: "receive", prometheus: { replicas } },
        { name: "minio", role: "storage" },
      ],
    },
    "test",
  );
  const [sidecar, receive] = topology.workloads;
  assert.ok(sidecar && receive);
  return { sidecar, receive };
}

describe("a workload cluster's NodePorts (WORKLOAD_NODE_PORTS)", () => {
  test("a per-replica key opens base + i for each Prometheus replica; the others one port", () => {
    const { sidecar } = workloads(3);
    assert.equal(workloadNodePort(sidecar, "sidecarGrpc", 2), 31002);
    assert.equal(workloadNodePort(sidecar, "prometheus", 1), 30091);
    assert.equal(workloadNodePort(sidecar, "grafana", 0), 30300);
    assert.deepEqual(clusterNodePorts(sidecar), [
      { key: "sidecarGrpc+0", port: 31000 },
      { key: "sidecarGrpc+1", port: 31001 },
      { key: "sidecarGrpc+2", port: 31002 },
      { key: "sidecarHttp+0", port: 31100 },
      { key: "sidecarHttp+1", port: 31101 },
      { key: "sidecarHttp+2", port: 31102 },
      { key: "prometheus+0", port: 30090 },
      { key: "prometheus+1", port: 30091 },
      { key: "prometheus+2", port: 30092 },
      { key: "alertmanager", port: 30903 },
      { key: "grafana", port: 30300 },
    ]);
  });

  test("a receive-mode cluster runs no sidecar: its sidecar NodePorts are neither reserved nor handed out", () => {
    const { receive } = workloads(2);
    assert.deepEqual(
      clusterNodePorts(receive).map((p) => p.key),
      ["prometheus+0", "prometheus+1", "alertmanager", "grafana"],
    );
    assert.throws(() => workloadNodePort(receive, "sidecarGrpc", 0), /biz2 is in receive mode.*sidecarGrpc/);
    assert.throws(() => workloadNodePort(receive, "sidecarHttp", 0), /biz2 is in receive mode.*sidecarHttp/);
  });

  test("a replica the cluster does not run, or a second port of a one-port key, is refused", () => {
    const { sidecar } = workloads(2);
    assert.throws(() => workloadNodePort(sidecar, "prometheus", 2), /2 replica\(s\), not for replica 2/);
    assert.throws(() => workloadNodePort(sidecar, "alertmanager", 1), /1 replica\(s\), not for replica 1/);
  });
});
