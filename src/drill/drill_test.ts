// The drill's pure parts: which scenarios a fleet gets, what counts as a lost block, how a verdict reads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport, formatResult } from "../commands/drill.ts";
import { HA_ALERTS } from "../components/thanos/rule.ts";
import { DEFAULT_FLEET, loadTopology, parseFleet, parseFleetYaml } from "../topology/load.ts";
import type { BlockMeta } from "../verify/probe.ts";
import { lostBlocks, seriesOfPods } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const topology = await loadTopology();

test("the default fleet gets every scenario of the drill, each with its fault and promise", () => {
  const all = scenarios(topology);
  assert.deepEqual(
    all.map((s) => [s.id, s.mode]),
    [
      ["prometheus-replica", "down"],
      ["sidecar", "down"],
      ["cluster-cut-off", "cut-off"],
      ["query-replica", "down"],
      ["store-gateway", "down"],
      ["ruler-replica", "down"],
      ["object-store", "down"],
      ["compactor-restart", "restart"],
      ["cert-rotation", "rotate-certs"],
    ],
  );
  const byId = new Map(all.map((s) => [s.id, s]));
  assert.equal(byId.get("prometheus-replica")?.alert?.name, HA_ALERTS.prometheusDown);
  assert.equal(byId.get("sidecar")?.alert?.name, HA_ALERTS.sidecarDown);
  assert.deepEqual(byId.get("cluster-cut-off")?.alert, {
    name: HA_ALERTS.clusterMissing,
    labels: { cluster: "biz2" },
  });
  assert.equal(byId.get("cluster-cut-off")?.completeDuring, false, "a cut-off cluster is out of view");
  assert.deepEqual(byId.get("object-store")?.hold, { blockDurations: 2 });
  assert.equal(byId.get("object-store")?.uploadsCatchUp, true);
});

test("one Prometheus replica: its scenario still promises a complete view (and so fails), with no alert", async () => {
  const { defaultFleetYaml } = await import("../commands/init.ts");
  const single = parseFleetYaml(defaultFleetYaml().replaceAll("replicas: 2 ", "replicas: 1 "), "fleet.yaml");
  assert.equal(single.workloads[0]?.replicaNames.length, 1);
  const first = scenarios(single)[0];
  assert.equal(first?.id, "prometheus-replica");
  assert.equal(first?.completeDuring, true);
  assert.equal(first?.alert, undefined);
});

const block = (ulid: string, minTime: number, maxTime: number, replica = "a"): BlockMeta => ({
  ulid,
  minTime,
  maxTime,
  labels: { cluster: "biz1", prometheus_replica: replica },
  level: 1,
  resolution: 0,
  uploadedAt: maxTime,
});

test("the series of a removed pod are those with its cluster and pod name, not a namesake's in another cluster", () => {
  const gone = seriesOfPods([{ cluster: "biz1", pod: "prometheus-1" }]);
  assert.equal(gone({ cluster: "biz1", pod: "prometheus-1", job: "prometheus" }), true);
  assert.equal(gone({ cluster: "biz2", pod: "prometheus-1", job: "prometheus" }), false);
  assert.equal(
    gone({ cluster: "biz1", job: "prometheus", instance: "prometheus-1.prometheus-operated:9090" }),
    false,
  );
  assert.equal(seriesOfPods([])({ cluster: "biz1", pod: "prometheus-1" }), false);
});

test("lost blocks: kept by ULID or covered by a compacted block of the same series; else lost", () => {
  const before = [block("A", 0, 10), block("B", 10, 20), block("C", 20, 30), block("D", 0, 10, "b")];
  const after = [block("A", 0, 10), block("X", 10, 30), block("E", 30, 40), block("Y", 0, 10, "c")];
  assert.deepEqual(
    lostBlocks(before, after).map((b) => b.ulid),
    ["D"],
  );
});

test("a verdict names what was broken and each measurement; the summary counts broken promises", () => {
  const row = formatResult({
    id: "sidecar",
    title: "one sidecar down",
    broken: "SIGKILL biz1/p-0/thanos-sidecar (held down)",
    ok: false,
    view: {
      ok: true,
      promised: "complete",
      seriesBefore: 30,
      seriesDuringMin: 30,
      seriesAfter: 30,
      maxGapSeconds: 15,
      allowedGapSeconds: 32,
    },
    warnings: { ok: true, seen: [] },
    alert: { name: HA_ALERTS.sidecarDown, ok: false },
    recovery: { ok: true, seconds: 4 },
    blocks: { ok: true, before: 3, after: 4, missing: [] },
  });
  assert.equal(row[1], "FAIL");
  assert.match(row[2] as string, /SIGKILL biz1\/p-0\/thanos-sidecar/);
  assert.match(row[2] as string, /FleetSidecarDown did NOT fire/);
  assert.match(row[2] as string, /recovered 4 s after/);
  assert.match(
    formatReport({
      ok: false,
      startedAt: "",
      scenarios: [{ id: "x", title: "x", ok: false, error: "boom" }],
    }),
    /1 of 1 scenario\(s\) broke their promise/,
  );
});

test("lost blocks: an HA pair's blocks merged by offline deduplication are kept, another cluster's are not", () => {
  const before = [block("A", 0, 10), block("B", 0, 10, "b"), block("C", 10, 20), block("D", 10, 20, "b")];
  const deduplicated = (ulid: string, minTime: number, maxTime: number, sources: string[]): BlockMeta => ({
    ...block(ulid, minTime, maxTime),
    labels: { cluster: "biz1" },
    level: 2,
    sources,
  });
  // X lists A and B as its sources; Y covers C and D's time without the replica label; Z is another cluster's.
  const after = [
    deduplicated("X", 0, 10, ["A", "B"]),
    deduplicated("Y", 10, 20, ["P", "Q"]),
    { ...deduplicated("Z", 0, 20, ["A"]), labels: { cluster: "biz2" }, sources: [] },
  ];
  assert.deepEqual(lostBlocks(before, after), []);
  assert.deepEqual(
    lostBlocks(before, [after[2] as BlockMeta]).map((b) => b.ulid),
    ["A", "B", "C", "D"],
  );
});

test("with a receive-mode cluster: the ingester rollout replaces every ingester, highest ordinal first", () => {
  const input = parseFleetYaml(
    "clusters:\n  - { name: mgmt, role: observer }\n  - { name: biz1, role: workload }\n  - { name: biz2, role: workload, mode: receive }\n  - { name: minio, role: storage }\n",
    "fleet.yaml",
  );
  const byId = new Map(scenarios(input).map((s) => [s.id, s]));
  const rollout = byId.get("ingester-rollout");
  assert.equal(rollout?.mode, "rollout");
  assert.deepEqual(
    rollout?.victims.map((v) => `${v.cluster}/${v.component}/${v.pod}`),
    [
      "mgmt/receive-ingester/thanos-receive-ingester-2",
      "mgmt/receive-ingester/thanos-receive-ingester-1",
      "mgmt/receive-ingester/thanos-receive-ingester-0",
    ],
  );
  assert.equal(rollout?.completeDuring, true);
  assert.equal(rollout?.noFailedWrites, true);
  const row = formatResult({
    id: "ingester-rollout",
    title: "",
    ok: true,
    writes: { ok: true, failedSamples: 0, failedRequests: 0, retriedSamples: 12, replicationErrors: 40 },
  });
  assert.match(
    row[2] as string,
    /writes ok \(0 samples and 0 requests failed; 12 samples resent, 40 ingester copies not stored\)/,
  );
});

test("cert-rotation is a scenario of both runtimes with TLS, not with TLS off", () => {
  const local = scenarios(topology, { runtime: "local" });
  const rotation = local.find((s) => s.id === "cert-rotation");
  assert.equal(rotation?.mode, "rotate-certs");
  assert.equal(rotation?.continuousQueries, true);
  assert.equal(rotation?.completeDuring, true);
  assert.ok(scenarios(topology, { runtime: "kubernetes" }).some((s) => s.id === "cert-rotation"));
  const plain = parseFleet({ ...DEFAULT_FLEET, tls: { grpc: false, http: false, s3: false } }, "fleet.yaml");
  assert.ok(!scenarios(plain, { runtime: "local" }).some((s) => s.id === "cert-rotation"));
});
