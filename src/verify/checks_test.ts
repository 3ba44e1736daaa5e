// Every check against answers recorded from a real fleet (Thanos v0.42.4, Prometheus v3.14.0, Alertmanager
// v0.34.2, MinIO), healthy and broken in one way each; see testdata/*.json for the scenario of each recording.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { type Recording, readRecording, replayClient } from "./replay.ts";
import type { CheckStatus, Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const REPLICA_1 = "prometheus-kube-prometheus-stack-prometheus-1";

const recording = readRecording;

function replay(rec: Recording): Promise<Report> {
  const now = new Date(rec.now);
  return verifyFleet(topology, rec.endpoints, { http: replayClient(rec.responses), now: () => now });
}

type Expect = CheckStatus | [CheckStatus, RegExp, RegExp?];

const ALL_PASS: Record<string, Expect> = {
  stores: "pass",
  duplicates: "pass",
  query: "pass",
  objstore: "pass",
  "store-gateway": "pass",
  compactor: "pass",
  ruler: "pass",
  sidecars: "pass",
};

const cases: { name: string; expect: Record<string, Expect> }[] = [
  { name: "healthy", expect: ALL_PASS },
  {
    name: "fresh",
    expect: {
      ...ALL_PASS,
      objstore: ["pending", /biz1, biz2: first block due by \d\d:\d\d \(1m blocks\)/],
      "store-gateway": ["pending", /no blocks in the bucket yet/],
    },
  },
  {
    name: "sidecar-stopped",
    expect: {
      ...ALL_PASS,
      stores: [
        "fail",
        new RegExp(
          `sidecar biz2/${REPLICA_1} \\(127\\.0\\.4\\.11:10901\\) unhealthy on thanos-query-0, thanos-query-1: dial tcp .*connection refused`,
        ),
        /the sidecar is down or its NodePort is unreachable from mgmt/,
      ],
      query: ["fail", new RegExp(`without dedup biz2 shows 1 of 2 replicas: ${REPLICA_1} missing`)],
      sidecars: [
        "fail",
        new RegExp(
          `sidecar biz2/${REPLICA_1} unreachable at http://127\\.0\\.4\\.11:10902: connection refused`,
        ),
        /the sidecar is down/,
      ],
    },
  },
  {
    name: "duplicate-endpoint",
    expect: {
      ...ALL_PASS,
      duplicates: [
        "fail",
        /\{cluster="biz2",prometheus_replica="prometheus-kube-prometheus-stack-prometheus-0"\} served by 127\.0\.4\.10:10901 and 127\.0\.4\.21:10901 on thanos-query-1/,
        /found duplicate storeEndpoints producer/,
      ],
    },
  },
  {
    name: "wrong-s3-secret",
    expect: {
      ...ALL_PASS,
      objstore: ["fail", /rejected the secret key of thanos-EXAMPLEKEY/, /wrong secret key/],
      "store-gateway": ["fail", /cannot compare with the bucket/, /see check objstore/],
    },
  },
  {
    name: "wrong-s3-key",
    expect: {
      ...ALL_PASS,
      objstore: ["fail", /does not know access key thanos-EXAMPLEKEY/, /wrong access key/],
      "store-gateway": ["fail", /cannot compare with the bucket/],
    },
  },
  {
    name: "workload-no-data",
    expect: {
      ...ALL_PASS,
      stores: [
        "fail",
        /sidecar biz2\/.* unhealthy on thanos-query-0, thanos-query-1: Not ready/,
        /its Prometheus is down/,
      ],
      query: ["fail", /no recent series from workload cluster biz2 \{cluster="biz2"\}/],
      sidecars: [
        "fail",
        /sidecar biz2\/prometheus-kube-prometheus-stack-prometheus-0 reports its Prometheus down/,
      ],
    },
  },
  {
    name: "alertmanager-down",
    expect: {
      ...ALL_PASS,
      ruler: [
        "fail",
        /mgmt Alertmanager unreachable at http:\/\/127\.0\.2\.9:9093: connection refused; thanos-ruler-1 reports 1 send errors/,
        /Alertmanager in mgmt is down/,
      ],
    },
  },
  {
    name: "compactor-stopped",
    expect: {
      ...ALL_PASS,
      compactor: [
        "fail",
        /thanos-compact-0 unreachable at http:\/\/127\.0\.2\.5:10902: connection refused/,
        /the compactor is not running/,
      ],
      // Alertmanager was restarted seconds before: the rulers resend within a minute, so it lacks the watchdog.
      ruler: [
        "fail",
        /FleetWatchdog fires since .* but is not in mgmt's Alertmanager/,
        /cannot deliver alerts/,
      ],
    },
  },
  {
    name: "store-gateway-exited",
    expect: {
      ...ALL_PASS,
      stores: [
        "fail",
        /store gateway mgmt\/thanos-store-0 \(127\.0\.2\.1:10901\) unhealthy on thanos-query-0, thanos-query-1/,
      ],
      "store-gateway": [
        "fail",
        /store gateway 127\.0\.2\.1:10901 unhealthy/,
        /down or unreachable from query/,
      ],
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
      const report = await replay(recording(c.name));
      assert.deepEqual(
        report.checks.map((r) => r.id),
        Object.keys(c.expect),
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
      const failing = Object.values(c.expect).some((e) => (typeof e === "string" ? e : e[0]) === "fail");
      assert.equal(report.ok, !failing);
    });
  }
});
