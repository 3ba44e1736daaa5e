// Every check against answers recorded from a real fleet (Thanos v0.42.4, Prometheus v3.14.0, Alertmanager
// v0.34.2, MinIO), healthy and broken in one way each; see testdata/*.json for the scenario of each recording.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Recording, readRecording, replayClient, replayOptions } from "../../testing/verify/replay.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { globalSection } from "./checks/sidecars.ts";
import type { CheckStatus, Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const REPLICA_1 = "prometheus-kube-prometheus-stack-prometheus-1";

const recording = readRecording;

function replay(rec: Recording): Promise<Report> {
  return verifyFleet(topology, rec.endpoints, replayOptions(rec));
}

type Expect = CheckStatus | [CheckStatus, RegExp, RegExp?];

const ALL_PASS: Record<string, Expect> = {
  stores: "pass",
  duplicates: "pass",
  query: "pass",
  gaps: "pass",
  objstore: "pass",
  "store-gateway": "pass",
  compactor: "pass",
  ruler: "pass",
  sidecars: "pass",
};

const SIDECAR_1 = `sidecar biz1/${REPLICA_1} \\(127\\.78\\.1\\.1:31001\\)`;
const COMPACTOR_DOWN: Expect = [
  "fail",
  /thanos-compact-0 unreachable at http:\/\/127\.78\.0\.16:10902/,
  /the compactor is not running/,
];
const AM_DOWN: Expect = [
  "fail",
  /mgmt Alertmanager unreachable at http:\/\/127\.78\.0\.18:9093: connection refused/,
  /Alertmanager in mgmt is down/,
];

// Recorded from the local runtime by record-scenarios.ts, in this order, each breakage on top of the ones before;
// compactor-halted and store-gateway-min-time by hand, from processes started one by one.
const cases: { name: string; expect: Record<string, Expect> }[] = [
  {
    name: "fresh",
    expect: {
      ...ALL_PASS,
      query: ["pending", /Prometheus started moments ago, no sample yet/],
      objstore: ["pending", /biz1, biz2: no block yet/],
      "store-gateway": ["pending", /no blocks in the bucket yet/],
      ruler: ["pending", /thanos-ruler-\d started \ds ago, first evaluation pending/],
    },
  },
  {
    name: "wrong-s3-secret",
    expect: {
      ...ALL_PASS,
      query: "pending",
      objstore: ["fail", /rejected the secret key of thanos-EXAMPLEKEY/, /wrong secret key/],
      "store-gateway": ["fail", /cannot compare with the bucket/, /see check objstore/],
      ruler: "pending",
    },
  },
  {
    name: "wrong-s3-key",
    expect: {
      ...ALL_PASS,
      query: "pending",
      objstore: ["fail", /does not know access key thanos-EXAMPLEKEY/, /wrong access key/],
      "store-gateway": ["fail", /cannot compare with the bucket/],
      ruler: "pending",
    },
  },
  {
    name: "duplicate-endpoint",
    expect: {
      ...ALL_PASS,
      duplicates: [
        "fail",
        /\{cluster="biz2",prometheus_replica="prometheus-kube-prometheus-stack-prometheus-0"\} served by 127\.78\.2\.10:10901 and 127\.78\.2\.1:31000 on thanos-query-1/,
        /found duplicate storeEndpoints producer/,
      ],
      query: "pending",
      objstore: "pending",
      "store-gateway": "pending",
      ruler: "pending",
    },
  },
  { name: "healthy", expect: ALL_PASS },
  { name: "compactor-stopped", expect: { ...ALL_PASS, compactor: COMPACTOR_DOWN } },
  { name: "alertmanager-down", expect: { ...ALL_PASS, compactor: COMPACTOR_DOWN, ruler: AM_DOWN } },
  {
    name: "sidecar-stopped",
    expect: {
      ...ALL_PASS,
      stores: [
        "fail",
        new RegExp(`${SIDECAR_1} unhealthy on thanos-query-0: error reading server preface: EOF`),
        /the sidecar is down or its NodePort is unreachable from mgmt/,
      ],
      query: ["fail", new RegExp(`without dedup biz1 shows 1 of 2 replicas: ${REPLICA_1} missing`)],
      compactor: COMPACTOR_DOWN,
      // With one StoreAPI failing, the rulers' queries abort: their partial response strategy is ABORT.
      ruler: [
        "fail",
        /thanos-ruler-\d rule cluster:up:sum is err: no query API server reachable/,
        /aborts on partial responses/,
      ],
      sidecars: [
        "fail",
        new RegExp(
          `sidecar biz1/${REPLICA_1} unreachable at http://127\\.78\\.1\\.11:10902: connection refused`,
        ),
        /the sidecar is down/,
      ],
    },
  },
  {
    name: "workload-no-data",
    expect: {
      ...ALL_PASS,
      stores: "fail",
      query: [
        "fail",
        /no recent series from workload cluster biz2 \{cluster="biz2"\}/,
        /Prometheus biz2\/prometheus-kube-prometheus-stack-prometheus-0 does not answer at .*; Prometheus biz2\/prometheus-kube-prometheus-stack-prometheus-1 does not answer/,
      ],
      compactor: "fail",
      ruler: "fail",
      sidecars: [
        "fail",
        /Prometheus biz2\/prometheus-kube-prometheus-stack-prometheus-\d did not answer \/api\/v1\/status\/config/,
        /Prometheus is down/,
      ],
    },
  },
  {
    name: "store-gateway-stopped",
    expect: {
      ...ALL_PASS,
      stores: ["fail", /store gateway mgmt\/thanos-store-0 \(127\.78\.0\.200:10901\) unhealthy on/],
      query: "fail",
      "store-gateway": [
        "fail",
        /store gateway 127\.78\.0\.200:10901 unhealthy on thanos-query-\d/,
        /down or unreachable from query/,
      ],
      compactor: "fail",
      ruler: "fail",
      sidecars: "fail",
    },
  },
  {
    name: "compactor-halted",
    expect: {
      ...ALL_PASS,
      objstore: [
        "fail",
        /blocks \w+ and \w+ of \{cluster="biz1",prometheus_replica="prometheus-kube-prometheus-stack-prometheus-0"\} overlap in time/,
        /the compactor halts on overlapping blocks/,
      ],
      compactor: ["fail", /thanos-compact-0 halted \(thanos_compact_halted=1\)/, /overlapping blocks/],
    },
  },
  {
    // The blind spot: everything runs again and every other check is green, but biz1 lost a minute.
    name: "prometheus-hole",
    expect: {
      ...ALL_PASS,
      gaps: [
        "fail",
        /^the global view of biz1 \{cluster="biz1"\} has 1 hole: no sample of up\{job="prometheus"\} from any replica 2026-12-07 03:49:01 to 03:50:00 UTC \(59 s\) \(more than 22\.5 s: every replica missed a scrape at once\)$/,
        /every Prometheus replica of biz1 was down or not scraping at once/,
      ],
      supervisor: "pass",
    },
  },
  {
    name: "store-gateway-min-time",
    expect: {
      ...ALL_PASS,
      "store-gateway": [
        "fail",
        /store gateway advertises .* to .*, the bucket holds .* to /,
        /--min-time\/--max-time/,
      ],
    },
  },
];

describe("checks against recorded fleets", () => {
  for (const c of cases) {
    it(`${c.name}: ${recording(c.name).scenario}`, async () => {
      const rec = recording(c.name);
      const report = await replay(rec);
      // A recording made before a check existed holds no answers for it (`skip`); one made with the supervisor's
      // state in its endpoints gets the supervisor check.
      assert.deepEqual(
        report.checks.map((r) => r.id),
        Object.keys(c.expect).filter((id) => !rec.skip?.includes(id)),
        "every check reported, in order; no Grafana without Grafana endpoints",
      );
      for (const r of report.checks) {
        const want = c.expect[r.id] as Expect;
        const [status, detail, cause] = typeof want === "string" ? [want] : want;
        assert.equal(r.status, status, `${r.id}: ${r.detail}`);
        if (detail) assert.match(r.detail, detail, r.id);
        if (cause) assert.match(r.cause ?? "", cause, r.id);
        if (r.status === "fail") {
          assert.ok(r.cause && r.fix, `${r.id} fails with a cause and a fix`);
        } else {
          assert.equal(r.cause, undefined, `${r.id} has no cause unless it fails`);
        }
      }
      const failing = Object.entries(c.expect).some(
        ([id, e]) => !rec.skip?.includes(id) && (typeof e === "string" ? e : e[0]) === "fail",
      );
      assert.equal(report.ok, !failing);
    });
  }
});

describe("the global block of a Prometheus configuration", () => {
  const yaml = [
    "global:",
    "  scrape_interval: 15s",
    "  external_labels:",
    "    cluster: biz3",
    "  scrape_protocols:",
    "  - OpenMetricsText1.0.0",
    "",
    "runtime:",
    "  gogc: 75",
    "scrape_configs:",
    "- job_name: prometheus",
  ].join("\n");

  it("is everything up to the next top-level key, its lists and blank lines included", () => {
    assert.equal(globalSection(yaml), yaml.split("\nruntime:")[0]);
  });

  it("is empty when the configuration has none", () => {
    assert.equal(globalSection("scrape_configs:\n- job_name: x\n"), "");
  });
});

describe("a hole in the global view", () => {
  const rec = recording("prometheus-hole");
  it("began before the fleet was last brought up from nothing: it does not count", async () => {
    // The same answers, from a fleet brought up after the hole began (its samples before were an earlier fleet's).
    const report = await verifyFleet(
      topology,
      { ...rec.endpoints, upSince: "2026-12-07T03:49:30Z" },
      replayOptions(rec),
    );
    const gaps = report.checks.find((c) => c.id === "gaps");
    assert.equal(gaps?.status, "pass", gaps?.detail);
    assert.match(
      gaps?.detail ?? "",
      /biz1, biz2: no stretch without a sample of up\{job="prometheus"\} over the last 15 minutes \(4 series read\)/,
    );
    assert.equal(report.ok, true);
  });
  it("began after: it counts", async () => {
    const report = await verifyFleet(
      topology,
      { ...rec.endpoints, upSince: "2026-12-07T03:49:00Z" },
      replayOptions(rec),
    );
    assert.equal(report.checks.find((c) => c.id === "gaps")?.status, "fail");
  });
  it("per cluster (the Kubernetes runtime's clusterUpSince): only the cluster made after the hole began is spared", async () => {
    const report = await verifyFleet(
      topology,
      { ...rec.endpoints, clusterUpSince: { biz1: "2026-12-07T03:49:30Z", biz2: "2026-12-07T03:00:00Z" } },
      replayOptions(rec),
    );
    const gaps = report.checks.find((c) => c.id === "gaps");
    assert.equal(gaps?.status, "pass", gaps?.detail);
    const older = await verifyFleet(
      topology,
      { ...rec.endpoints, clusterUpSince: { biz1: "2026-12-07T03:49:00Z", biz2: "2026-12-07T03:55:00Z" } },
      replayOptions(rec),
    );
    const failed = older.checks.find((c) => c.id === "gaps");
    assert.equal(failed?.status, "fail");
    assert.match(JSON.stringify(failed), /global view of biz1/);
  });
  it("the later of the fleet's and the cluster's time counts", async () => {
    const report = await verifyFleet(
      topology,
      { ...rec.endpoints, upSince: "2026-12-07T03:49:30Z", clusterUpSince: { biz1: "2026-12-07T03:00:00Z" } },
      replayOptions(rec),
    );
    assert.equal(report.checks.find((c) => c.id === "gaps")?.status, "pass");
  });
});

describe("the supervisor check, and fix texts true for the supervisor as it is", () => {
  const rec = recording("sidecar-stopped");
  const run = (supervisor: FleetEndpoints["supervisor"]) => {
    const now = new Date(rec.now);
    return verifyFleet(
      topology,
      { ...rec.endpoints, ...(supervisor ? { supervisor } : {}) },
      { http: replayClient(rec.responses), now: () => now, skip: ["gaps"] },
    );
  };
  const byId = (r: Report, id: string) => r.checks.find((c) => c.id === id);

  it("supervisor dead: the check fails, and no fix says the supervisor restarts anything", async () => {
    const report = await run({ running: false, held: [] });
    const s = byId(report, "supervisor");
    assert.equal(s?.status, "fail");
    assert.match(s?.detail ?? "", /the local fleet's supervisor is not running/);
    assert.match(s?.fix ?? "", /`thanos-fleet up --runtime local`: it starts the supervisor again/);
    const sidecars = byId(report, "sidecars");
    assert.equal(sidecars?.status, "fail");
    assert.match(sidecars?.fix ?? "", /nothing restarts a dead process by itself now/);
    for (const c of report.checks) assert.doesNotMatch(c.fix ?? "", /does so by itself/, c.id);
  });

  it("supervisor running: the check passes and names what it holds down; that process's fix says it is held", async () => {
    const held = [
      {
        cluster: "biz1",
        pod: REPLICA_1,
        container: "thanos-sidecar",
        component: "sidecar",
      },
    ];
    const report = await run({ running: true, pid: 4242, held });
    const s = byId(report, "supervisor");
    assert.equal(s?.status, "pass");
    assert.match(
      s?.detail ?? "",
      new RegExp(`pid 4242: .*1 process held down on purpose: biz1/${REPLICA_1} sidecar`),
    );
    assert.match(byId(report, "sidecars")?.fix ?? "", /held down on purpose/);
    assert.doesNotMatch(byId(report, "sidecars")?.fix ?? "", /does so by itself/);
  });

  it("Kubernetes, or a recording without it: no supervisor check", async () => {
    const report = await run(undefined);
    assert.equal(byId(report, "supervisor"), undefined);
  });
});
