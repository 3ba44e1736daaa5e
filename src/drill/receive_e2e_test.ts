// One real local fleet with biz2 on Thanos Receive (biz1 on sidecars): it comes up, verify is green with the receive
// check, biz2's series come out of query-frontend one per series, and one ingester held down loses no write.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testFleet } from "../../testing/local/fleet.ts";
import { formatResult } from "../commands/drill.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { fleetClient } from "../net/https.ts";
import { receiveTopology } from "../render/testdata/fixtures.ts";
import { TLS_DIR } from "../state/tls.ts";
import { formatReport } from "../verify/report.ts";
import type { Report } from "../verify/types.ts";
import { verifyFleet } from "../verify/verify.ts";
import { localFaults } from "./local.ts";
import { runDrill } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.83";
const topology = receiveTopology();
const fleet = await testFleet(topology, { subnet: SUBNET, name: "receive" });
const { runtime, stateDir, upOptions, lines } = fleet;
let endpoints: FleetEndpoints;

function step(name: string, timeoutMs: number, fn: () => Promise<void>): void {
  test(name, { timeout: timeoutMs }, async () => {
    try {
      await fn();
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  });
}

/** Verify until every check passes (blocks take minutes to be cut and shipped), or fails after the deadline. */
async function allPass(waitMs: number): Promise<Report> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const report = await verifyFleet(topology, endpoints);
    if (report.summary.fail === 0 && report.summary.pending === 0) return report;
    if (Date.now() > deadline)
      assert.fail(`verify is not green after ${waitMs / 1000} s:\n${formatReport(report)}`);
    await sleep(10_000);
  }
}

interface Series {
  metric: Record<string, string>;
}

async function series(query: string, dedup: boolean): Promise<Series[]> {
  const params = new URLSearchParams({ query, dedup: String(dedup) });
  const res = await fleetClient(
    15_000,
    endpoints.httpTls,
  )(`${endpoints.queryFrontend}/api/v1/query?${params}`);
  const body = JSON.parse(res.body) as { status: string; data: { result: Series[] } };
  assert.equal(body.status, "success");
  return body.data.result;
}

step("up: biz2's Prometheus runs no sidecar, mgmt runs 2 routers and 3 ingesters", 300_000, async () => {
  await runtime.up(topology, upOptions);
  endpoints = await runtime.endpoints(topology, { stateDir });
  const rows = await runtime.status(topology, { stateDir });
  const count = (cluster: string, component: string) =>
    rows.filter((r) => r.cluster === cluster && r.component === component).length;
  assert.equal(count("biz2", "sidecar"), 0);
  assert.equal(count("biz1", "sidecar"), 2);
  assert.equal(count("mgmt", "receive-router"), 2);
  assert.equal(count("mgmt", "receive-ingester"), 3);
  assert.deepEqual(
    rows.filter((r) => !r.ready).map((r) => `${r.cluster}/${r.pod}/${r.component}`),
    [],
  );
});

step(
  "verify is green, the receive check included, once the ingesters have shipped blocks",
  600_000,
  async () => {
    const report = await allPass(540_000);
    const receive = report.checks.find((c) => c.id === "receive");
    assert.equal(receive?.status, "pass", formatReport(report));
    assert.match(receive?.detail ?? "", /biz2: every replica on 3 of 3 ready ingesters/);
    assert.match(receive?.detail ?? "", /none failed/);
    // The remote-write endpoint is counted among the exposed ports, asked with an empty write.
    const exposure = report.checks.find((c) => c.id === "exposure");
    const n = endpoints.exposedHttp?.length ?? 0;
    assert.ok(endpoints.exposedHttp?.some((e) => e.name === "thanos-receive-router/remote-write"));
    assert.match(
      exposure?.detail ?? "",
      new RegExp(
        `^${n} endpoints: ${n} refuse .* \\(mgmt thanos-receive-router/remote-write with an empty write\\)$`,
      ),
    );
    process.stderr.write(`${formatReport(report)}\n`);
  },
);

step(
  "through query-frontend: biz2's series, one per series with dedup; 2 replicas × 3 copies without",
  60_000,
  async () => {
    const q = 'fleet_demo_requests_total{cluster="biz2"}';
    const deduped = await series(q, true);
    const raw = await series(q, false);
    assert.ok(deduped.length > 0, "biz2's demo series arrive");
    for (const s of deduped) {
      assert.equal(s.metric.prometheus_replica, undefined, JSON.stringify(s.metric));
      assert.equal(s.metric.receive_replica, undefined, JSON.stringify(s.metric));
      assert.equal(s.metric.tenant_id, "biz2");
    }
    const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());
    assert.equal(new Set(deduped.map((s) => key(s.metric))).size, deduped.length, "one series per label set");
    assert.equal(raw.length, deduped.length * 2 * 3, "each series from 2 Prometheus replicas on 3 ingesters");
    const copies = new Set(raw.map((s) => `${s.metric.prometheus_replica}/${s.metric.receive_replica}`));
    assert.equal(copies.size, 6);
  },
);

/** An empty remote write to biz2's tenant: `HTTP <status>`, or `error: …` when no HTTP answer came (TLS refused). */
function emptyWrite(url: string, tls: https.RequestOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const options = { method: "POST", headers: { "THANOS-TENANT": "biz2" }, timeout: 10_000, ...tls };
    const req = (url.startsWith("https:") ? https : http).request(url, options, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => resolve(`error: ${e.message}`));
    req.end();
  });
}

step("the remote-write endpoint answers only the fleet's client certificate, over TLS", 60_000, async () => {
  const host = new URL(endpoints.queryFrontend).hostname;
  const path = `${host}:${topology.observer.receive.nodePort}/api/v1/receive`;
  const file = (name: string) => readFileSync(join(stateDir, TLS_DIR, name));
  // The routers' own certificate names the node address dialled here: no shared name to pin.
  const trust = { ca: file("ca.crt") };
  const anonymous = await emptyWrite(`https://${path}`, trust);
  assert.match(anonymous, /^error: /, "a write without a client certificate is refused in the TLS handshake");
  assert.equal(await emptyWrite(`http://${path}`), "HTTP 400", "plaintext meets Go's TLS-only answer");
  const fleetWrite = await emptyWrite(`https://${path}`, {
    ...trust,
    cert: file("grpc-client.crt"),
    key: file("grpc-client.key"),
  });
  assert.match(fleetWrite, /^HTTP /, "the fleet's client certificate gets through to the handler");
});

step(
  "drill ingester, ingester-rollout, router, receive-cut-off: no failed write, no gap",
  1_800_000,
  async () => {
    const ids = ["ingester", "ingester-rollout", "router", "receive-cut-off"];
    const chosen = scenarios(topology).filter((s) => ids.includes(s.id));
    assert.equal(chosen.length, 4);
    const report = await runDrill(topology, endpoints, localFaults(topology, stateDir), chosen, {
      signal: new AbortController().signal,
      onProgress: (line) => lines.push(line),
    });
    const text = report.scenarios.map((s) => formatResult(s).join("  ")).join("\n");
    process.stderr.write(`${text}\n`);
    for (const result of report.scenarios) {
      assert.ok(result.writes, text);
      assert.equal(result.writes.failedSamples, 0, text);
      assert.equal(result.writes.failedRequests, 0, text);
      assert.ok(result.view?.ok, text);
      assert.ok(result.ok, text);
    }
    // The rollout replaced every ingester, each ready again before the next was stopped.
    const rollout = report.scenarios.find((r) => r.id === "ingester-rollout");
    assert.equal(rollout?.broken?.match(/ready again \d+ s later/g)?.length, 3, text);
  },
);
