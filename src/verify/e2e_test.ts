// verify against a real local fleet (Thanos, Prometheus, Alertmanager, SeaweedFS processes on loopback): quiet on a
// fresh fleet, all green once blocks exist, and red with the expected message for each way of breaking it.
// One fleet serves every case: the harmless breakages first, then processes stopped one after another.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LocalFleetHarness } from "../../testing/verify/harness.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { loadTopology } from "../topology/load.ts";
import { QUERY_ENDPOINT_CHECK_MS } from "./probe.ts";
import { formatReport } from "./report.ts";
import type { CheckResult, Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";

const SUBNET = process.env.THANOS_FLEET_VERIFY_SUBNET ?? "127.78";
const REPLICA_1 = "prometheus-kube-prometheus-stack-prometheus-1";

const topology = await loadTopology();
const fleet = new LocalFleetHarness(topology, SUBNET);
let failed = false;

after(async () => {
  const kept = await fleet.down(failed);
  if (kept) process.stderr.write(`verify e2e: state and logs kept in ${kept}\n${fleet.log.join("\n")}\n`);
});

function step(name: string, timeoutMs: number, fn: () => Promise<void>, skip?: string): void {
  test(name, { timeout: timeoutMs, ...(skip ? { skip } : {}) }, async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
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
    const report = await verifyFleet(topology, e ?? (await fleet.endpoints()));
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

step("the local fleet comes up", 240_000, () => fleet.up());

step("a fresh fleet: nothing fails, what needs data is pending", 90_000, async () => {
  const report = await until("no failure", 60_000, (r) => r.ok);
  assert.deepEqual(
    report.checks.map((c) => c.id),
    [
      "stores",
      "duplicates",
      "query",
      "gaps",
      "objstore",
      "storage-doors",
      "store-gateway",
      "compactor",
      "ruler",
      "sidecars",
      "supervisor",
      "exposure",
    ],
  );
  for (const c of report.checks) assert.notEqual(c.status, "fail", `${c.id}: ${c.detail}`);
});

step("wrong S3 credentials: objstore fails, naming the key", 30_000, async () => {
  const e = await fleet.endpoints();
  const report = await verifyFleet(topology, {
    ...e,
    objectStore: { ...e.objectStore, secretKey: "not-the-secret-key" },
  });
  const c = byId(report, "objstore");
  assert.equal(c.status, "fail", c.detail);
  assert.match(c.detail, new RegExp(`rejected the secret key of ${e.objectStore.accessKey}`));
  assert.match(c.cause ?? "", /wrong secret key/);
  assert.equal(report.ok, false);
});

step("S3 without the fleet CA is refused; a plain-HTTP S3 address fails storage-doors", 60_000, async () => {
  const e = await fleet.endpoints();
  assert.match(e.objectStore.url, /^https:/);
  const { ca: _ca, ...untrusted } = e.objectStore;
  const objstore = byId(await verifyFleet(topology, { ...e, objectStore: untrusted }), "objstore");
  assert.equal(objstore.status, "fail", objstore.detail);
  const plain = { ...e.objectStore, url: e.objectStore.url.replace(/^https:/, "http:") };
  const doors = byId(await verifyFleet(topology, { ...e, objectStore: plain }), "storage-doors");
  assert.equal(doors.status, "fail", doors.detail);
  assert.match(doors.detail, /is plain HTTP/);
  // The ports themselves still refuse: the only problem named is the plain address.
  assert.doesNotMatch(doors.detail, /were let through/);
});

step("the same sidecar registered twice: duplicates fails, naming both addresses", 90_000, async () => {
  const { endpoints, direct } = await fleet.duplicateQuery("biz2", REPLICA_1);
  const report = await until(
    "the duplicate to show",
    60_000,
    failing("duplicates", new RegExp(`served by .*${direct.replaceAll(".", "\\.")}.* on thanos-query-1`)),
    endpoints,
  );
  assert.match(
    byId(report, "duplicates").detail,
    new RegExp(`\\{cluster="biz2",prometheus_replica="${REPLICA_1}"\\} served by`),
  );
  assert.match(byId(report, "duplicates").cause ?? "", /found duplicate storeEndpoints producer/);
  assert.equal(byId(report, "stores").status, "pass", byId(report, "stores").detail);
  fleet.stopDuplicateQuery();
});

step("a healthy fleet: all green once blocks are in the bucket and served", 420_000, async () => {
  const report = await until("every check to pass", 400_000, (r) =>
    r.checks.every((c) => c.status === "pass"),
  );
  assert.equal(report.ok, true);
  fleet.log.push(formatReport(report));
});

step(
  "both Prometheus of biz1 killed and held down 30 s: gaps names biz1 and the interval",
  240_000,
  async () => {
    const { killedAt, backAt } = await fleet.killAndHold("biz1", "prometheus", 30_000);
    fleet.log.push(
      `biz1's Prometheus killed at ${new Date(killedAt).toISOString()}, back at ${new Date(backAt).toISOString()}`,
    );
    const scrapeMs = 15_000;
    // Everything runs again: every other check is green (the verify said nothing); gaps names the hole.
    const report = await until(
      "the hole to show, everything else green",
      120_000,
      (r) =>
        byId(r, "gaps").status === "fail" && r.checks.every((c) => c.id === "gaps" || c.status === "pass"),
    );
    const gaps = byId(report, "gaps");
    assert.match(
      gaps.detail,
      /the global view of biz1 \{cluster="biz1"\} has 1 hole: no sample of up\{job="prometheus"\}/,
    );
    assert.doesNotMatch(gaps.detail, /biz2/);
    const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) to (\d\d:\d\d:\d\d) UTC \((\d+) s\)/.exec(gaps.detail);
    assert.ok(m, gaps.detail);
    const from = Date.parse(`${m[1]}T${m[2]}Z`);
    const to = Date.parse(`${m[1]}T${m[3]}Z`);
    // The hole runs from the last sample before the kill to the first after the restart, to the second.
    assert.ok(
      from <= killedAt && from >= killedAt - scrapeMs - 2000,
      `hole starts ${m[2]}, killed at ${new Date(killedAt).toISOString()}`,
    );
    assert.ok(
      to >= killedAt + 30_000 && to <= backAt + scrapeMs + 2000,
      `hole ends ${m[3]}, back at ${new Date(backAt).toISOString()}`,
    );
    assert.ok(Number(m[4]) >= 30, gaps.detail);
    assert.match(gaps.cause ?? "", /every Prometheus replica of biz1 was down or not scraping at once/);
    if (process.env.THANOS_FLEET_RECORD_TESTDATA) {
      await fleet.record(
        "prometheus-hole",
        "both Prometheus of biz1 SIGKILLed together and held down 30 s, then started again by the supervisor; everything runs",
        (r) => byId(r, "gaps").status === "fail",
      );
    }
  },
);

step("compactor stopped: compactor fails", 60_000, async () => {
  await fleet.stop("mgmt", "compact");
  const report = await until(
    "the compactor to be missed",
    30_000,
    failing("compactor", /thanos-compact-0 unreachable/),
  );
  assert.match(byId(report, "compactor").cause ?? "", /the compactor is not running/);
});

step("Alertmanager down: ruler fails, the watchdog cannot arrive", 60_000, async () => {
  await fleet.stop("mgmt", "alertmanager");
  const report = await until(
    "the Alertmanager to be missed",
    30_000,
    failing("ruler", /mgmt Alertmanager unreachable at https?:/),
  );
  assert.match(byId(report, "ruler").cause ?? "", /Alertmanager in mgmt is down/);
});

step("a sidecar stopped: stores and sidecars fail, naming it", 120_000, async () => {
  await fleet.stop("biz1", "sidecar", REPLICA_1);
  // The promise: once an endpoint has been dead for one of query's check intervals, the next verify says so. The
  // extra seconds are the sidecar's own shutdown after SIGTERM and a check on a busy machine.
  await sleep(QUERY_ENDPOINT_CHECK_MS + 3000);
  const first = await verifyFleet(topology, await fleet.endpoints());
  assert.ok(
    failing(
      "stores",
      new RegExp(`sidecar biz1/${REPLICA_1} .*(unhealthy on|missing from|last checked at)`),
    )(first),
    `the first verify one check interval after the sidecar stopped:\n${formatReport(first)}`,
  );
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
  await fleet.stop("biz2", "prometheus");
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
  // The cause names what is down: both Prometheus of biz2, not "no data" in general.
  assert.match(
    byId(report, "query").cause ?? "",
    /Prometheus biz2\/\S+-0 does not answer at https?:\S+: .*; Prometheus biz2\/\S+-1 does not answer/,
  );
});

step("store gateway stopped: store-gateway fails", 60_000, async () => {
  await fleet.stop("mgmt", "store");
  const report = await until(
    "the store gateway to be missed",
    45_000,
    failing("store-gateway", /store gateway .* (unhealthy on|no query replica lists)/),
  );
  assert.match(byId(report, "store-gateway").cause ?? "", /store gateway is down/);
});

step(
  "supervisor killed: supervisor fails, and no fix says the supervisor restarts anything",
  60_000,
  async () => {
    await fleet.killSupervisor();
    const report = await until(
      "the supervisor to be missed",
      30_000,
      failing("supervisor", /the local fleet's supervisor is not running/),
    );
    assert.match(
      byId(report, "supervisor").fix ?? "",
      /`thanos-fleet up --runtime local`: it starts the supervisor again/,
    );
    assert.equal(byId(report, "sidecars").status, "fail");
    assert.match(byId(report, "sidecars").fix ?? "", /nothing restarts a dead process by itself now/);
    for (const c of report.checks) assert.doesNotMatch(c.fix ?? "", /does so by itself/, `${c.id}: ${c.fix}`);
  },
);

step(
  "the fix every failing check gave (up --runtime local) brings the fleet back to green",
  400_000,
  async () => {
    const before = await verifyFleet(topology, await fleet.endpoints());
    // gaps names what is lost for good: no command repairs it, and its fix says so.
    const repairable = before.checks.filter((c) => c.status === "fail" && c.id !== "gaps");
    const fixes = new Set(repairable.map((c) => c.fix ?? ""));
    assert.ok(fixes.size > 0, "the fleet is broken before the fix");
    for (const fix of fixes) assert.match(fix, /`thanos-fleet up --runtime local`/, fix);
    assert.match(byId(before, "gaps").fix ?? "", /nothing brings the lost samples back/);
    await fleet.converge();
    // Once biz2's Prometheus scrape again, the stretch they were stopped is a hole between two samples: gaps names it
    // (and biz1's, if not 15 minutes old yet).
    const report = await until(
      "every check but gaps to pass after up, and gaps to name biz2's hole",
      360_000,
      (r) =>
        r.checks.every((c) => c.status !== "fail" || c.id === "gaps") &&
        byId(r, "query").status === "pass" &&
        /global view of biz2 \{cluster="biz2"\} has 1 hole/.test(byId(r, "gaps").detail),
    );
    assert.equal(byId(report, "supervisor").status, "pass", byId(report, "supervisor").detail);
  },
);
