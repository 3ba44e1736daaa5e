// End to end, with real processes: the default fleet comes up locally, answers deduplicated queries across
// clusters, ships blocks that the store gateway serves with every sidecar stopped, and goes down without a trace.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testFleet } from "../../../testing/local/fleet.ts";
import { doctorCommand } from "../../commands/doctor.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import { fleetClient } from "../../net/https.ts";
import { recordedRuntime } from "../../state/runtime.ts";
import { loadTopology } from "../../topology/load.ts";
import { hasExited, sessionMembers } from "./proc.ts";
import { localRoot } from "./processes.ts";
import { type FleetState, readState, writeHolds } from "./state.ts";
import { tcpOpen } from "./supervisor.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.79";
const BLOCK_MS = 60_000;

const topology = await loadTopology();
const fleet = await testFleet(topology, { subnet: SUBNET, name: "e2e" });
const { runtime, stateDir, lines, upOptions } = fleet;

/** A step of the scenario; later steps build on earlier ones, so a failure is remembered for the cleanup. */
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

/** Polls fn until it returns a value other than undefined; on timeout, says what it waited for and what it last saw. */
async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`waited ${timeoutMs / 1000} s for ${what}; last error: ${String(last)}`, {
        cause: last,
      });
    }
    await sleep(1000);
  }
}

/** GET with the fleet's client certificate (its HTTP ports ask for it with tls.http, the default). */
async function getJson<T>(url: string): Promise<T> {
  const res = await fleetClient(10_000, endpoints.httpTls)(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as T;
}

interface Series {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}
interface QueryResponse {
  status: string;
  data: { result: Series[] };
  warnings?: string[];
}

const demo = 'fleet_demo_requests_total{path="/"}';

function q(base: string, path: string, params: Record<string, string>): string {
  return `${base}/api/v1/${path}?${new URLSearchParams(params)}`;
}

function sortSeries(result: Series[]): Series[] {
  return [...result].sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}

let endpoints: FleetEndpoints;
let state: FleetState;

step("up: every process of the default fleet starts and gets ready", 120_000, async () => {
  await runtime.up(topology, upOptions);
  // status, verify and down without --runtime act on this fleet.
  assert.equal(await recordedRuntime(stateDir), "local");
  const rows = await runtime.status(topology, { stateDir });
  const notReady = rows.filter((r) => !r.ready).map((r) => `${r.cluster}/${r.pod}/${r.component}`);
  assert.deepEqual(notReady, []);
  const replicas = topology.workloads.reduce((n, w) => n + w.replicaNames.length, 0);
  // Per workload replica: Prometheus and sidecar; per workload cluster: Alertmanager and demo; mgmt; SeaweedFS and, with
  // tls.http (the default), the Prometheus that serves its metrics with HTTPS; HAProxy ×4; and the supervisor.
  const expected =
    2 * replicas +
    2 * topology.workloads.length +
    (topology.observer.queryReplicas + topology.observer.rulerReplicas + 5) +
    2 +
    topology.fleet.clusters.length;
  assert.equal(rows.filter((r) => r.component === "storage-metrics").length, 1);
  assert.equal(rows.filter((r) => r.component !== "supervisor").length, expected);
  assert.equal(rows.filter((r) => r.component === "supervisor").length, 1);
  endpoints = await runtime.endpoints(topology, { stateDir });
  state = (await readState(localRoot(stateDir))) as FleetState;
  assert.ok(state.complete);
});

step("a second up reports the running fleet and changes nothing", 30_000, async () => {
  const before = await readFile(join(localRoot(stateDir), "fleet.json"), "utf8");
  const mark = lines.length;
  await runtime.up(topology, upOptions);
  assert.match(lines.slice(mark).join("\n"), /already running/);
  assert.equal(await readFile(join(localRoot(stateDir), "fleet.json"), "utf8"), before);
});

step(
  "through query-frontend: the demo series of every workload cluster, deduplicated; dedup=false doubles them",
  120_000,
  async () => {
    const clusters = topology.workloads.map((w) => w.name).sort();
    const deduped = await poll(
      "one demo series per workload cluster through query-frontend",
      60_000,
      async () => {
        const r = await getJson<QueryResponse>(q(endpoints.queryFrontend, "query", { query: demo }));
        const got = r.data.result.map((s) => s.metric.cluster).sort();
        return JSON.stringify(got) === JSON.stringify(clusters) ? r.data.result : undefined;
      },
    );
    for (const s of deduped)
      assert.equal(s.metric.prometheus_replica, undefined, "deduplicated series keep no replica label");

    const all = await poll("every replica's demo series with dedup=false", 60_000, async () => {
      const r = await getJson<QueryResponse>(
        q(endpoints.queryFrontend, "query", { query: demo, dedup: "false" }),
      );
      return r.data.result.length === 2 * deduped.length ? r.data.result : undefined;
    });
    for (const w of topology.workloads) {
      const replicas = all
        .filter((s) => s.metric.cluster === w.name)
        .map((s) => s.metric.prometheus_replica)
        .sort();
      assert.deepEqual(replicas, [...w.replicaNames].sort(), w.name);
    }
  },
);

step(
  "mgmt's compactor is scraped by every workload cluster: thanos_compact_halted is in the global view, 0",
  90_000,
  async () => {
    const clusters = topology.workloads.map((w) => w.name).sort();
    const halted = await poll("thanos_compact_halted from every workload cluster", 60_000, async () => {
      const r = await getJson<QueryResponse>(
        q(endpoints.queryFrontend, "query", { query: 'thanos_compact_halted{job="thanos-compact"}' }),
      );
      const got = r.data.result.map((s) => s.metric.cluster).sort();
      return JSON.stringify(got) === JSON.stringify(clusters) ? r.data.result : undefined;
    });
    for (const s of halted)
      assert.equal(s.value?.[1], "0", `${s.metric.cluster}: the compactor reports a halt`);
  },
);

step(
  "doctor --state-dir on the default fleet reports nothing above warning, watching its endpoints for 3 s",
  120_000,
  async () => {
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
    };
    const code = await doctorCommand(
      { query: endpoints.queryFrontend, json: true, watch: "3s" },
      { io, fleet: async () => endpoints },
    );
    const report = JSON.parse(out.join(""));
    const shown = JSON.stringify({ read: report.read, findings: report.findings }, null, 2);
    assert.equal(code, 0, shown);
    assert.equal(report.summary.error, 0, shown);
    // It read every Thanos component, Prometheus and the bucket the fleet's state names.
    assert.deepEqual(
      report.read.filter((l: string) => l.includes("not read")),
      [],
      shown,
    );
    assert.ok(
      report.read.some((l: string) => / query-frontend /.test(l)),
      shown,
    );
    assert.ok(report.read.at(-1).startsWith("s3://"), shown);
  },
);

interface Block {
  minTime: number;
  maxTime: number;
  thanos: { labels: Record<string, string> };
}

/** The longest interval that a shipped block of every workload replica covers, if any. */
function commonWindow(
  blocks: Block[],
  replicas: { cluster: string; replica: string }[],
): [number, number] | undefined {
  let windows: [number, number][] | undefined;
  for (const { cluster, replica } of replicas) {
    const own = blocks
      .filter((b) => b.thanos.labels.cluster === cluster && b.thanos.labels.prometheus_replica === replica)
      .map((b): [number, number] => [b.minTime, b.maxTime]);
    windows = (windows ?? own).flatMap(([lo, hi]) =>
      own.flatMap(([a, b]): [number, number][] => {
        const x: [number, number] = [Math.max(lo, a), Math.min(hi, b)];
        return x[0] < x[1] ? [x] : [];
      }),
    );
  }
  return windows?.sort((a, b) => b[1] - b[0] - (a[1] - a[0]))[0];
}

step(
  "blocks shipped by the sidecars are answered by the store gateway with every sidecar stopped",
  300_000,
  async () => {
    const bucketWeb = endpoints.targets.find((t) => t.component === "bucket-web")?.url;
    const queries = endpoints.targets.filter((t) => t.component === "query").map((t) => t.url);
    const store = endpoints.targets.find((t) => t.component === "store");
    assert.ok(bucketWeb && store?.grpc && queries.length > 0);
    const replicas = topology.workloads.flatMap((w) =>
      w.replicaNames.map((replica) => ({ cluster: w.name, replica })),
    );

    const [lo, hi] = await poll(
      "blocks of every Prometheus replica covering a common 30 s in the bucket",
      240_000,
      async () => {
        const r = await getJson<{ data: { blocks: Block[] } }>(`${bucketWeb}/api/v1/blocks`);
        const w = commonWindow(r.data.blocks, replicas);
        return w && w[1] - w[0] >= 30_000 ? w : undefined;
      },
    );
    assert.ok(hi - lo <= BLOCK_MS);
    // Each evaluation point's latest sample (scraped every 15 s) lies inside the window.
    // Step-aligned, as query-frontend aligns it.
    const start = Math.ceil((lo + 16_000) / 5000) * 5;
    const end = Math.floor((hi - 1) / 5000) * 5;
    const range = { query: demo, start: String(start), end: String(end), step: "5" };

    const withSidecars = await getJson<QueryResponse>(q(queries[0] as string, "query_range", range));
    const expected = sortSeries(withSidecars.data.result);
    assert.deepEqual(
      expected.map((s) => s.metric.cluster).sort(),
      topology.workloads.map((w) => w.name).sort(),
    );
    for (const s of expected)
      assert.ok((s.values?.length ?? 0) >= 2, `${s.metric.cluster}: ${s.values?.length} points`);

    // The store gateway alone already answers the same, once it has loaded the blocks.
    const storeOnly = { ...range, "storeMatch[]": `{__address__="${store.grpc}"}` };
    await poll("the store gateway alone answering the shipped range", 60_000, async () => {
      const r = await getJson<QueryResponse>(q(queries[0] as string, "query_range", storeOnly));
      return JSON.stringify(sortSeries(r.data.result)) === JSON.stringify(expected) ? true : undefined;
    });

    const sidecars = state.processes.filter((p) => p.component === "sidecar");
    assert.equal(sidecars.length, replicas.length);
    // Held down, like the sidecars' pods scaled to zero: the supervisor does not start them again.
    await writeHolds(
      localRoot(stateDir),
      sidecars.map((s) => s.id),
    );
    for (const s of sidecars) process.kill(s.pid, "SIGTERM");
    await poll("every sidecar to exit", 30_000, async () =>
      sidecars.every((s) => hasExited(s)) ? true : undefined,
    );
    for (const s of sidecars) {
      const grpc = endpoints.targets.find(
        (t) => t.component === "sidecar" && t.cluster === s.cluster && t.pod === s.pod,
      )?.grpc;
      assert.ok(grpc);
      // Through its NodePort the load balancer no longer reaches a sidecar: nothing serves the StoreAPI there.
      await poll(`query to see sidecar ${grpc} gone`, 60_000, async () => {
        const r = await getJson<{ data: { sidecar?: { name: string; lastError: string | null }[] } }>(
          `${queries[0]}/api/v1/stores`,
        );
        const entry = r.data.sidecar?.find((e) => e.name === grpc);
        return entry === undefined || entry.lastError ? true : undefined;
      });
    }

    for (const base of [endpoints.queryFrontend, ...queries]) {
      const r = await getJson<QueryResponse>(q(base, "query_range", range));
      assert.deepEqual(
        sortSeries(r.data.result),
        expected,
        `${base} answers the shipped range from the store gateway`,
      );
    }
  },
);

step("down leaves no process and no open port", 60_000, async () => {
  await runtime.down(topology, { ...upOptions, purge: false });
  const alive = state.processes.filter((p) => !hasExited(p)).map((p) => `${p.id} (pid ${p.pid})`);
  assert.deepEqual(alive, []);
  assert.deepEqual(sessionMembers(new Set(state.processes.map((p) => p.pid))), []);
  const open: string[] = [];
  for (const address of state.listen) if (await tcpOpen(address, 500)) open.push(address);
  assert.deepEqual(open, []);
  assert.ok(state.listen.length > 50, `checked ${state.listen.length} addresses`);
  assert.deepEqual(await runtime.status(topology, { stateDir }), []);
  // Idempotent: a second down finds nothing to stop.
  await runtime.down(topology, { ...upOptions, purge: false });
});
