// With real processes: the observer's query path (its HAProxy, both query replicas, query-frontend), started as the
// local runtime plans them from the component specs. A storm of requests spends query-frontend's rate limit: it
// refuses with 429, and its load balancer keeps it in service all along. Then more CPU-heavy queries at once than
// the query path takes in: query-frontend refuses what is beyond its rate limit with 429 at once, each query replica
// evaluates at most its --query.max-concurrent at a time, and every other request comes back answered or refused
// with a 5xx status rather than left waiting: nothing hangs, nothing dies.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { storageService } from "../../components/storage.ts";
import { HTTP_PORT } from "../../components/thanos/common.ts";
import { ENDPOINTS_FILE, queryMaxConcurrent } from "../../components/thanos/query.ts";
import { queryFrontendRateLimit } from "../../components/thanos/query-frontend.ts";
import { generateCredentials } from "../../state/credentials.ts";
import { loadOrCreateGrpcTls, loadS3Tls } from "../../state/tls.ts";
import { loadTopology } from "../../topology/load.ts";
import { resolveExecutables } from "./binaries.ts";
import { serverStates } from "./haproxy.ts";
import { hasExited } from "./proc.ts";
import { planLocalFleet } from "./processes.ts";
import type { ProcessRecord } from "./state.ts";
import { startProcess, stopProcesses } from "./supervisor.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.73";
/** Four times what query-frontend's rate limit takes in at once. */
const LOAD_FACTOR = 4;
/**
 * Clients that ask again as soon as they are answered, a load that never lets up, for long enough that the load
 * balancer checks each backend several times (every 2 s, then every 250 ms once one failed: haproxy.ts).
 */
const STORM = { clients: 8, ms: 8000 };
/**
 * CPU-heavy without any data: one series of 3.6 million points (an hour at 1 ms), about 60 MB while it is evaluated,
 * seconds of CPU each.
 */
const HEAVY = "sum_over_time(vector(1)[1h:1ms])";
/** Far beyond what the query path lets anything wait (20 s): a request still open then was left queued. */
const CLIENT_TIMEOUT_MS = 180_000;

const loaded = await loadTopology();
// The limits are query's and query-frontend's own, whatever the transport: the test asks the pods over plain HTTP.
const topology = { ...loaded, fleet: { ...loaded.fleet, tls: { ...loaded.fleet.tls, http: false } } };
const stateDir = await mkdtemp(join(tmpdir(), "fleet-query-limits-"));
const plan = planLocalFleet(
  topology,
  generateCredentials(),
  stateDir,
  {
    subnet: SUBNET,
    blockDuration: "2h",
    bucketSyncInterval: "3m",
  },
  await loadOrCreateGrpcTls(stateDir),
  undefined,
  (await loadS3Tls(stateDir, storageService(topology))).tls,
);
const mgmt = topology.observer.name;
const wanted = plan.processes.filter(
  (p) =>
    p.cluster === mgmt && (["load-balancer", "query", "query-frontend"] as string[]).includes(p.component),
);
const records: ProcessRecord[] = [];
let failed = false;
after(async () => {
  await stopProcesses(records);
  if (!failed) await rm(stateDir, { recursive: true, force: true });
  else process.stderr.write(`query limits: logs kept in ${stateDir}\n`);
});

/** Starts the query path once, for every test of this file. */
async function start(): Promise<void> {
  const executables = await resolveExecutables(topology, wanted);
  // No StoreAPI server: the heavy query needs no data, only CPU.
  for (const p of wanted) {
    const file = p.files.find((f) => f.path.endsWith(`/${ENDPOINTS_FILE}`));
    if (file) file.content = "endpoints: []\n";
  }
  for (const p of [...wanted].sort((a, b) => a.stage - b.stage)) {
    await startProcess(p, executables.get(p.binary) as string, {
      signal: new AbortController().signal,
      readyTimeoutMs: 180_000,
      onStarted: async (r) => {
        records.push(r);
      },
    });
  }
}
let started: Promise<void> | undefined;
const ready = () => {
  started ??= start();
  return started;
};

/** The in-flight gauge of query's concurrency gate. */
async function inFlight(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const m = /^thanos_query_concurrent_gate_queries_in_flight ([0-9.e+]+)$/m.exec(await res.text());
  if (!m) throw new Error(`${url}/metrics has no thanos_query_concurrent_gate_queries_in_flight`);
  return Number(m[1]);
}

test(
  "a storm that spends query-frontend's rate limit gets 429s, and its load balancer keeps it in service",
  { timeout: 600_000 },
  async () => {
    try {
      await ready();
      const frontend = wanted.find((p) => p.component === "query-frontend");
      const socket = plan.statsSockets.get(mgmt);
      assert.ok(frontend && socket, "the plan has query-frontend and mgmt's load balancer");
      const backend = "thanos-query-frontend_http/thanos-query-frontend-0";
      const url = `http://${frontend.ip}:${HTTP_PORT}/-/healthy`;
      // In service before the storm: its load balancer has seen it pass a check.
      for (let i = 0; (await serverStates(socket)).get(backend) !== "UP"; i++) {
        assert.ok(i < 100, "query-frontend never came into its load balancer's service");
        await sleep(100);
      }
      let storming = true;
      const states = new Map<string, number>();
      const watching = (async () => {
        while (storming) {
          const state = (await serverStates(socket)).get(backend) ?? "absent";
          states.set(state, (states.get(state) ?? 0) + 1);
          await sleep(100);
        }
      })();
      const statuses = new Map<number, number>();
      const until = Date.now() + STORM.ms;
      await Promise.all(
        Array.from({ length: STORM.clients }, async () => {
          while (Date.now() < until) {
            const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
            await res.arrayBuffer();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      );
      storming = false;
      await watching;
      const seen = JSON.stringify(Object.fromEntries(statuses));
      process.stdout.write(
        `# storm: ${seen}; load balancer saw ${JSON.stringify(Object.fromEntries(states))}\n`,
      );
      assert.ok((statuses.get(429) ?? 0) > 0, `the storm spent no token of the rate limit: ${seen}`);
      assert.deepEqual([...states.keys()], ["UP"], "query-frontend stayed in its load balancer's service");
      // Once the storm has passed, the bucket fills again.
      await sleep(1000);
      assert.equal((await fetch(url)).status, 200);
    } catch (error) {
      failed = true;
      throw error;
    }
  },
);

test(
  "the query path evaluates at most its limit at once and answers or refuses everything else",
  { timeout: 600_000 },
  async () => {
    try {
      await ready();
      const queries = wanted.filter((p) => p.component === "query").map((p) => `http://${p.ip}:${HTTP_PORT}`);
      const frontend = wanted.find((p) => p.component === "query-frontend");
      assert.ok(frontend && queries.length > 0, "the plan has query-frontend and query");
      const limit = queryMaxConcurrent(topology.fleet.profile);
      const { burst, interval } = queryFrontendRateLimit(topology);
      const n = LOAD_FACTOR * burst;
      // The storm before spent the bucket: it holds `burst` tokens again after `burst` intervals.
      await sleep(burst * Number.parseInt(interval, 10) + 1000);

      let loading = true;
      let peak = 0;
      const sampling = (async () => {
        while (loading) {
          for (const q of queries) peak = Math.max(peak, await inFlight(q).catch(() => 0));
          await sleep(100);
        }
      })();
      const end = Math.floor(Date.now() / 1000);
      const url = `http://${frontend.ip}:${HTTP_PORT}/api/v1/query_range?${new URLSearchParams({
        query: HEAVY,
        start: String(end - 60),
        end: String(end),
        step: "60s",
      })}`;
      const outcomes = await Promise.all(
        Array.from({ length: n }, async () => {
          try {
            const res = await fetch(url, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
            return { status: res.status, body: (await res.text()).slice(0, 200) };
          } catch (error) {
            return { status: 0, body: `no answer: ${String((error as Error).cause ?? error)}` };
          }
        }),
      );
      loading = false;
      await sampling;

      const summary = outcomes.map((o) => `${o.status} ${o.body}`).join("\n");
      assert.ok(peak <= limit, `a query replica evaluated ${peak} queries at once; its limit is ${limit}`);
      assert.ok(peak > 0, "no query replica was ever seen evaluating a query: the load never reached them");
      for (const o of outcomes) {
        assert.ok(
          o.status === 200 || o.status === 429 || o.status >= 500,
          `every request is answered (200) or refused (429, 5xx); one got:\n${o.status} ${o.body}\nall:\n${summary}`,
        );
      }
      // The bucket was full: the first `burst` requests were taken in.
      const tooMany = outcomes.filter((o) => o.status === 429).length;
      assert.ok(
        n - tooMany >= burst,
        `only ${n - tooMany} of ${n} taken in; the burst is ${burst}\n${summary}`,
      );
      assert.ok(tooMany > 0, `${n} at once, ${burst} the burst: none was refused with 429\n${summary}`);
      for (const r of records) assert.ok(!hasExited(r), `${r.id} died under the load; see ${r.log}`);
      const seen = new Map<number, { n: number; body: string }>();
      for (const o of outcomes) seen.set(o.status, { n: (seen.get(o.status)?.n ?? 0) + 1, body: o.body });
      for (const [status, s] of seen) {
        process.stdout.write(`# ${status} ×${s.n}: ${s.body.replace(/\s+/g, " ").slice(0, 160)}\n`);
      }
      process.stdout.write(`# ${n} at once; peak in flight per query replica ${peak}\n`);
    } catch (error) {
      failed = true;
      throw error;
    }
  },
);
