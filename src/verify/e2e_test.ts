// verify against a real local fleet (Thanos, Prometheus, Alertmanager, MinIO processes on loopback): quiet on a
// fresh fleet, all green once blocks exist, and red with the expected message for each way of breaking it.
// One fleet serves every case: the harmless breakages first, then processes stopped one after another.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { resolveBinary } from "../binaries/resolve.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { createLocalRuntime } from "../runtimes/local/index.ts";
import { localRoot } from "../runtimes/local/plan.ts";
import { readState } from "../runtimes/local/state.ts";
import type { Reporter } from "../runtimes/runtime.ts";
import { loadTopology } from "../topology/load.ts";
import { formatReport } from "./report.ts";
import type { CheckResult, Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";

const SUBNET = process.env.THANOS_FLEET_VERIFY_SUBNET ?? "127.78";
const TIMINGS = { blockDuration: "1m", bucketSyncInterval: "5s" };
const REPLICA_1 = "prometheus-kube-prometheus-stack-prometheus-1";

const topology = await loadTopology();
const runtime = createLocalRuntime({ subnet: SUBNET, ...TIMINGS });
const stateDir = await mkdtemp(join(tmpdir(), "fleet-verify-e2e-"));
const log: string[] = [];
const reporter: Reporter = {
  step: (title) => (error) => log.push(error ? `✗ ${title}: ${error.message}` : `✓ ${title}`),
  info: (line) => log.push(line),
  verbose: () => {},
};
const upOptions = { stateDir, reporter, signal: new AbortController().signal, verbose: false };
const mine: ChildProcess[] = [];
let failed = false;

after(async () => {
  for (const p of mine) p.kill("SIGKILL");
  await runtime.down(topology, { ...upOptions, purge: true }).catch(() => {});
  if (!failed) await rm(stateDir, { recursive: true, force: true });
  else process.stderr.write(`verify e2e: state and logs kept in ${stateDir}\n${log.join("\n")}\n`);
});

function step(name: string, timeoutMs: number, fn: () => Promise<void>): void {
  test(name, { timeout: timeoutMs }, async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
}

/** What the runtime reports, with the timings this fleet runs with when the runtime does not say. */
async function endpoints(): Promise<FleetEndpoints> {
  return { ...TIMINGS, ...(await runtime.endpoints(topology, { stateDir })) };
}

/** Verifies until `done` holds; on timeout fails with the last report, so the message shows what was seen. */
async function until(
  what: string,
  timeoutMs: number,
  done: (r: Report) => boolean,
  e?: FleetEndpoints,
): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await verifyFleet(topology, e ?? (await endpoints()));
    if (done(report)) return report;
    if (Date.now() > deadline)
      assert.fail(`waited ${timeoutMs / 1000}s for ${what}; last report:\n${formatReport(report)}`);
    await sleep(1000);
  }
}

function byId(report: Report, id: string): CheckResult {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} reported`);
  return c;
}

const failing = (id: string, detail: RegExp) => (r: Report) =>
  byId(r, id).status === "fail" && detail.test(byId(r, id).detail);

/** Stops one process of the fleet (started by this test's `up`), found in the runtime's state by cluster and pod. */
async function stop(cluster: string, component: string, pod?: string): Promise<void> {
  const state = await readState(localRoot(stateDir));
  const records = (state?.processes ?? []).filter(
    (p) => p.cluster === cluster && p.component === component && (pod === undefined || p.pod === pod),
  );
  assert.ok(records.length > 0, `the local fleet runs ${component} ${pod ?? ""} in ${cluster}`);
  for (const r of records) process.kill(r.pid, "SIGTERM");
}

step("the local fleet comes up", 240_000, async () => {
  await runtime.up(topology, upOptions);
});

step("a fresh fleet: nothing fails, what needs blocks is pending", 90_000, async () => {
  const report = await until("no failure", 60_000, (r) => r.ok);
  for (const c of report.checks) assert.notEqual(c.status, "fail", `${c.id}: ${c.detail}`);
  assert.deepEqual(
    report.checks.map((c) => c.id),
    ["stores", "duplicates", "query", "objstore", "store-gateway", "compactor", "ruler", "sidecars"],
  );
});

step("wrong S3 credentials: objstore fails, naming the key", 30_000, async () => {
  const e = await endpoints();
  const wrong = { ...e, objectStore: { ...e.objectStore, secretKey: "not-the-secret-key" } };
  const report = await verifyFleet(topology, wrong);
  const c = byId(report, "objstore");
  assert.equal(c.status, "fail", c.detail);
  assert.match(c.detail, new RegExp(`rejected the secret key of ${e.objectStore.accessKey}`));
  assert.match(c.cause ?? "", /wrong secret key/);
  assert.equal(report.ok, false);
});

step("the same sidecar registered twice: duplicates fails, naming both addresses", 90_000, async () => {
  const e = await endpoints();
  const sidecar = e.targets.find(
    (t) => t.cluster === "biz2" && t.component === "sidecar" && t.pod === REPLICA_1,
  );
  assert.ok(sidecar?.grpc, "biz2's sidecar 1 has a gRPC address");
  // Its NodePort and its pod address: two ways to one sidecar, as two node IPs of one cluster would be.
  const direct = `${new URL(sidecar.url).hostname}:10901`;
  const stores = e.targets.filter((t) => t.grpc).map((t) => t.grpc as string);
  const addr = `${SUBNET}.0.240`;
  const thanos = await resolveBinary("thanos");
  const child = spawn(
    thanos,
    [
      "query",
      `--grpc-address=${addr}:10901`,
      `--http-address=${addr}:10902`,
      "--query.replica-label=prometheus_replica",
      "--query.replica-label=ruler_replica",
      ...[...stores, direct].map((s) => `--endpoint=${s}`),
    ],
    { stdio: "ignore" },
  );
  mine.push(child);
  const query1 = e.targets.find((t) => t.component === "query" && t.pod === "thanos-query-1");
  assert.ok(query1);
  const withDuplicate = {
    ...e,
    targets: e.targets.map((t) => (t === query1 ? { ...t, url: `http://${addr}:10902` } : t)),
  };
  const report = await until(
    "the duplicate to show",
    60_000,
    failing("duplicates", new RegExp(`served by .*${direct.replaceAll(".", "\\.")}.* on thanos-query-1`)),
    withDuplicate,
  );
  assert.match(
    byId(report, "duplicates").detail,
    new RegExp(`\\{cluster="biz2",prometheus_replica="${REPLICA_1}"\\} served by`),
  );
  assert.match(byId(report, "duplicates").cause ?? "", /found duplicate storeEndpoints producer/);
  assert.equal(byId(report, "stores").status, "pass", byId(report, "stores").detail);
  child.kill("SIGTERM");
});

step("a healthy fleet: all green once blocks are in the bucket and served", 420_000, async () => {
  const report = await until("every check to pass", 400_000, (r) =>
    r.checks.every((c) => c.status === "pass"),
  );
  assert.equal(report.ok, true);
  log.push(formatReport(report));
});

step("compactor stopped: compactor fails", 60_000, async () => {
  await stop("mgmt", "compact");
  const report = await until(
    "the compactor to be missed",
    30_000,
    failing("compactor", /thanos-compact-0 unreachable/),
  );
  assert.match(byId(report, "compactor").cause ?? "", /the compactor is not running/);
});

step("Alertmanager down: ruler fails, the watchdog cannot arrive", 60_000, async () => {
  await stop("mgmt", "alertmanager");
  const report = await until(
    "the Alertmanager to be missed",
    30_000,
    failing("ruler", /mgmt Alertmanager unreachable at http:/),
  );
  assert.match(byId(report, "ruler").cause ?? "", /Alertmanager in mgmt is down/);
});

step("a sidecar stopped: stores and sidecars fail, naming it", 120_000, async () => {
  await stop("biz1", "sidecar", REPLICA_1);
  const report = await until(
    "the sidecar to be missed",
    90_000,
    (r) =>
      failing(
        "stores",
        new RegExp(`sidecar biz1/${REPLICA_1} .*(unhealthy on|missing from) thanos-query-0`),
      )(r) && failing("sidecars", new RegExp(`sidecar biz1/${REPLICA_1} unreachable`))(r),
  );
  assert.match(
    byId(report, "stores").cause ?? "",
    /sidecar is down or its NodePort is unreachable from mgmt/,
  );
});

step("a workload cluster with no data: query fails for it", 120_000, async () => {
  await stop("biz2", "prometheus");
  const report = await until(
    "biz2 to have no data",
    90_000,
    (r) =>
      failing("query", /no recent series from workload cluster biz2 \{cluster="biz2"\}/)(r) &&
      failing(
        "sidecars",
        /biz2\/.*(reports its Prometheus down|did not answer \/api\/v1\/status\/config)/,
      )(r),
  );
  assert.match(byId(report, "query").cause ?? "", /biz2's Prometheus has no data/);
});
