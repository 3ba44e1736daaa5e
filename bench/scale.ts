// The cost of a bigger fleet: local fleets of 2, 4, 8 and 16 workload clusters (2 Prometheus replicas each), and
// how all-ready time, memory, `verify` and a cross-cluster query grow with each added workload cluster.
import { setMaxListeners } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyCommand } from "../src/commands/verify.ts";
import { join as urlJoin } from "../src/net/http.ts";
import { fleetClient, type TlsFiles } from "../src/net/https.ts";
import { s3HttpClient } from "../src/net/s3.ts";
import { createLocalRuntime } from "../src/runtimes/local/index.ts";
import { type LocalOptions, localRoot } from "../src/runtimes/local/processes.ts";
import { readState } from "../src/runtimes/local/state.ts";
import { loadTopology } from "../src/topology/load.ts";
import type { Topology } from "../src/topology/topology.ts";
import { table } from "../src/ui/table.ts";
import { QUERY_ENDPOINT_CHECK_MS } from "../src/verify/probe.ts";
import { formatReport } from "../src/verify/report.ts";
import { verifyFleet } from "../src/verify/verify.ts";
import { verifyFleetUntil } from "../src/verify/wait.ts";
import { type Benchmark, type Figure, formatValue, median, type Options } from "./benchmark.ts";
import { memorySampler, quiet, requireBinaries, sessionsCpuSeconds } from "./lib/fleet.ts";

const SUBNET = process.env.THANOS_FLEET_SCALE_BENCH_SUBNET ?? "127.84";
/** 1-minute blocks: every check passes (a block in the bucket, loaded by the store gateway) sooner. */
const TIMINGS = { blockDuration: "1m", bucketSyncInterval: "15s" };
const DEFAULT_SIZES = "2,4,8,16";
const REPLICAS = 2;
const VERIFIES = Number(process.env.THANOS_FLEET_BENCH_VERIFIES ?? 9);
const QUERIES = 50;
/** How long each fleet keeps running after its queries while memory is sampled (scrapes, rule evaluations). */
const HOLD_MS = Number(process.env.THANOS_FLEET_BENCH_HOLD_MS ?? 20_000);
const GREEN_WITHIN_MS = 8 * 60_000;
/** One instant query whose answer needs every workload cluster's sidecars: one series per cluster with dedup. */
const CROSS_CLUSTER_QUERY = "count by (cluster) (up)";

const TARGET = { verifyMs: 1000, memoryPerClusterMiB: 400 };

/** A fleet.yaml with `workloads` workload clusters biz1…bizN of 2 Prometheus replicas each, the rest as the default fleet. */
export function scaleFleetYaml(workloads: number): string {
  const lines = [
    `# ${workloads} workload clusters of ${REPLICAS} Prometheus replicas each: the fleet of \`npm run bench -- scale\`.`,
    "clusters:",
    "  - name: mgmt",
    "    role: observer",
  ];
  for (let i = 1; i <= workloads; i++) {
    lines.push(`  - name: biz${i}`, "    role: workload", "    prometheus:", `      replicas: ${REPLICAS}`);
  }
  lines.push("  - name: minio", "    role: storage", "");
  return lines.join("\n");
}

export function parseSizes(value: string): number[] {
  const sizes = value.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) {
    throw new Error(
      `--sizes ${value}: give workload cluster counts between 1 and 200, comma-separated, e.g. 2,4`,
    );
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

interface SizeResult {
  workloads: number;
  processes: number;
  readyS: number;
  peakRssMiB: number;
  peakPssMiB: number;
  verifyMs: number;
  verifySlowestMs: number;
  /** Verify's checks alone, without any wait for a current view of query's endpoints. */
  verifyWorkMs: number;
  queryMs: number;
  /** CPU that query and query-frontend spend on one cross-cluster query (their CPU at rest taken out). */
  queryCpuMs: number;
  /** CPU the whole fleet spends on one cross-cluster query (its CPU at rest taken out): sidecars and Prometheus too. */
  fleetCpuMs: number;
  /** CPU the whole fleet uses while nothing asks it anything (scrapes, rules, health checks), in cores. */
  restCores: number;
}

/** Median latency of the cross-cluster instant query through query-frontend; checks every cluster answered. */
async function queryLatency(
  frontend: string,
  topology: Topology,
  times: number,
  tls?: TlsFiles,
): Promise<number> {
  const http = fleetClient(30_000, tls);
  const params = new URLSearchParams({ query: CROSS_CLUSTER_QUERY, dedup: "true" });
  const url = urlJoin(frontend, `/api/v1/query?${params}`);
  const latencies: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    const res = await http(url);
    latencies.push(performance.now() - t);
    const body = JSON.parse(res.body) as { data?: { result?: { metric: Record<string, string> }[] } };
    const clusters = new Set((body.data?.result ?? []).map((r) => r.metric.cluster));
    const missing = topology.workloads.filter((w) => !clusters.has(w.name)).map((w) => w.name);
    if (res.status !== 200 || missing.length > 0) {
      throw new Error(
        `${url} answered ${res.status} without ${missing.join(", ") || "an error"}: ${res.body.slice(0, 300)}`,
      );
    }
  }
  return median(latencies);
}

/** Brings up one fleet of `workloads` workload clusters, measures it, and tears it down. */
async function measure(workloads: number): Promise<SizeResult> {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-bench-scale-"));
  const file = join(stateDir, "fleet.yaml");
  await writeFile(file, scaleFleetYaml(workloads));
  const topology = await loadTopology(file);
  const runtime = createLocalRuntime({ subnet: SUBNET, ...TIMINGS });
  const signal = new AbortController().signal;
  // As the CLI does: every process of a big fleet waits on this one signal.
  setMaxListeners(0, signal);
  const opts = { stateDir, reporter: quiet, signal, verbose: false };
  const sampler = memorySampler(localRoot(stateDir));
  try {
    const t0 = performance.now();
    await runtime.up(topology, opts);
    const readyS = (performance.now() - t0) / 1000;
    const endpoints = () => runtime.endpoints(topology, { stateDir });
    const green = await verifyFleetUntil(topology, endpoints, { waitMs: GREEN_WITHIN_MS, intervalMs: 2000 });
    if (!green.checks.every((c) => c.status === "pass")) {
      throw new Error(`not all green within ${GREEN_WITHIN_MS / 60_000} min:\n${formatReport(green)}`);
    }
    // What `thanos-fleet verify --runtime local` runs: endpoints from the state dir, every check, the table. Each at
    // a random moment of query's endpoint-check cycle, as a person runs it: a view that is not current is waited for.
    const verifies: number[] = [];
    for (let i = 0; i < VERIFIES; i++) {
      await new Promise((r) => setTimeout(r, Math.random() * QUERY_ENDPOINT_CHECK_MS));
      const out: string[] = [];
      const sink = { write: (t: string) => out.push(t) };
      const io = { stdout: sink, stderr: sink };
      const t = performance.now();
      const code = await verifyCommand(runtime, topology, { stateDir, json: false }, { io });
      verifies.push(performance.now() - t);
      if (code !== 0)
        throw new Error(`verify ${i + 1} of ${VERIFIES} failed on the healthy fleet:\n${out.join("")}`);
    }
    // The same checks that never wait for a current view of query's endpoints: the part that grows.
    const work: number[] = [];
    for (let i = 0; i < VERIFIES; i++) {
      const t = performance.now();
      const e = await endpoints();
      const report = await verifyFleet(topology, e, {
        http: fleetClient(5000, e.httpTls),
        s3Http: s3HttpClient(e.objectStore, 5000),
      });
      work.push(performance.now() - t);
      if (!report.ok) throw new Error(`verify ${i + 1} of ${VERIFIES} failed:\n${formatReport(report)}`);
    }
    // CPU of the query path (query and query-frontend) and of the whole fleet during the queries, less their CPU at
    // rest (health checks, scrapes, rules) measured over the hold that follows.
    const records = (await readState(localRoot(stateDir)))?.processes ?? [];
    const sessions = (kinds: string[]) =>
      new Set(records.filter((p) => kinds.length === 0 || kinds.includes(p.component)).map((p) => p.pid));
    const queryPath = sessions(["query", "query-frontend"]);
    const everything = sessions([]);
    const cpuNow = () => ({
      query: sessionsCpuSeconds(queryPath),
      fleet: sessionsCpuSeconds(everything),
      at: performance.now() / 1000,
    });
    const c0 = cpuNow();
    const e = await endpoints();
    const queryMs = await queryLatency(e.queryFrontend, topology, QUERIES, e.httpTls);
    const c1 = cpuNow();
    await new Promise((r) => setTimeout(r, HOLD_MS));
    const c2 = cpuNow();
    const restCores = (c2.fleet - c1.fleet) / (c2.at - c1.at);
    /** CPU ms per query of `which`, less its rate at rest over the time the queries took. */
    const perQuery = (which: "query" | "fleet") => {
      const atRest = ((c2[which] - c1[which]) / (c2.at - c1.at)) * (c1.at - c0.at);
      return ((c1[which] - c0[which] - atRest) * 1000) / QUERIES;
    };
    const queryCpuMs = perQuery("query");
    const fleetCpuMs = perQuery("fleet");
    const processes = records.length;
    const peak = await sampler.stop();
    return {
      workloads,
      processes,
      readyS,
      peakRssMiB: peak.rss / 2 ** 20,
      peakPssMiB: peak.pss / 2 ** 20,
      verifyMs: median(verifies),
      verifySlowestMs: Math.max(...verifies),
      verifyWorkMs: median(work),
      queryMs,
      queryCpuMs,
      fleetCpuMs,
      restCores,
    };
  } finally {
    await sampler.stop();
    await runtime.down(topology, { ...opts, purge: true }).catch(() => {});
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Least-squares slope of y over x: the growth per added workload cluster across every size measured. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxy / sxx;
}

function report(results: SizeResult[]): string {
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  const sizes = table(
    [
      "WORKLOAD CLUSTERS",
      "PROCESSES",
      "UP → ALL READY",
      "PEAK FLEET RSS",
      "PEAK FLEET PSS",
      "VERIFY (MEDIAN)",
      "CHECKS ALONE",
      "QUERY-FRONTEND (MEDIAN)",
      "QUERY PATH CPU PER QUERY",
      "FLEET CPU PER QUERY",
      "FLEET CPU AT REST",
    ],
    results.map((r) => [
      String(r.workloads),
      String(r.processes),
      formatValue(r.readyS, "s"),
      formatValue(r.peakRssMiB, "MiB"),
      formatValue(r.peakPssMiB, "MiB"),
      `${formatValue(r.verifyMs, "ms")} (≤ ${TARGET.verifyMs} ms: ${mark(r.verifyMs <= TARGET.verifyMs)})`,
      formatValue(r.verifyWorkMs, "ms"),
      formatValue(r.queryMs, "ms"),
      formatValue(r.queryCpuMs, "ms"),
      formatValue(r.fleetCpuMs, "ms"),
      formatValue(r.restCores, "cores"),
    ]),
  );
  if (results.length < 2) return `${sizes}(one size only: give two or more with --sizes to see the growth)\n`;
  // Per step: a growth that rises from one step to the next is worse than linear.
  const steps = results.slice(1).map((r, i) => {
    const prev = results[i] as SizeResult;
    const per = (pick: (x: SizeResult) => number) => (pick(r) - pick(prev)) / (r.workloads - prev.workloads);
    return [
      `${prev.workloads} → ${r.workloads}`,
      formatValue(
        per((x) => x.peakRssMiB),
        "MiB",
      ),
      formatValue(
        per((x) => x.peakPssMiB),
        "MiB",
      ),
      `${per((x) => x.readyS).toFixed(2)} s`,
      `${per((x) => x.verifyMs).toFixed(1)} ms`,
      `${per((x) => x.verifyWorkMs).toFixed(1)} ms`,
      `${per((x) => x.queryMs).toFixed(1)} ms`,
      `${per((x) => x.queryCpuMs).toFixed(1)} ms`,
      `${per((x) => x.fleetCpuMs).toFixed(1)} ms`,
      `${per((x) => x.restCores).toFixed(3)} cores`,
    ];
  });
  const growth = table(
    [
      "PER ADDED WORKLOAD CLUSTER",
      "RSS",
      "PSS",
      "UP → ALL READY",
      "VERIFY",
      "CHECKS ALONE",
      "QUERY-FRONTEND",
      "QUERY PATH CPU",
      "FLEET CPU",
      "FLEET CPU AT REST",
    ],
    steps,
  );
  return `${sizes}\n${growth}`;
}

function growthFigures(results: SizeResult[]): Figure[] {
  if (results.length < 2) return [];
  const fit = (pick: (r: SizeResult) => number) => slope(results.map((r) => [r.workloads, pick(r)]));
  const perCluster = TARGET.memoryPerClusterMiB;
  return [
    {
      name: "RSS per added workload cluster",
      value: fit((r) => r.peakRssMiB),
      unit: "MiB",
      target: perCluster,
    },
    {
      name: "PSS per added workload cluster",
      value: fit((r) => r.peakPssMiB),
      unit: "MiB",
      target: perCluster,
    },
    { name: "all-ready time per added workload cluster", value: fit((r) => r.readyS), unit: "s" },
    { name: "verify time per added workload cluster", value: fit((r) => r.verifyMs), unit: "ms" },
    { name: "verify checks alone per added workload cluster", value: fit((r) => r.verifyWorkMs), unit: "ms" },
    { name: "query-frontend latency per added workload cluster", value: fit((r) => r.queryMs), unit: "ms" },
    {
      name: "query path CPU per query per added workload cluster",
      value: fit((r) => r.queryCpuMs),
      unit: "ms",
    },
    { name: "fleet CPU per query per added workload cluster", value: fit((r) => r.fleetCpuMs), unit: "ms" },
    { name: "fleet CPU at rest per added workload cluster", value: fit((r) => r.restCores), unit: "cores" },
  ];
}

export const benchmark: Benchmark = {
  name: "scale",
  description: `local fleets of ${DEFAULT_SIZES} (--sizes) workload clusters, ${REPLICAS} Prometheus replicas each (binaries cached; runs only when named)`,
  runs: 1,
  onlyWhenNamed: true,
  options: { sizes: `workload cluster counts to bring up, one fleet at a time (default ${DEFAULT_SIZES})` },
  async prepare(options: Options) {
    parseSizes(options.sizes ?? DEFAULT_SIZES);
    await requireBinaries(await loadTopology(), { subnet: SUBNET, ...TIMINGS } satisfies LocalOptions);
  },
  async run(_index: number, options: Options): Promise<Figure[]> {
    const results: SizeResult[] = [];
    for (const n of parseSizes(options.sizes ?? DEFAULT_SIZES)) {
      let r: SizeResult;
      try {
        r = await measure(n);
      } catch (error) {
        // What was measured stays; a bigger fleet would not fare better.
        if (results.length === 0) throw error;
        process.stdout.write(`  ${n} workload clusters: NOT MEASURED, ${(error as Error).message}\n`);
        process.exitCode = 1;
        break;
      }
      process.stdout.write(
        `  ${n} workload clusters (${r.processes} processes): all ready ${formatValue(r.readyS, "s")}, ` +
          `peak RSS ${formatValue(r.peakRssMiB, "MiB")} (PSS ${formatValue(r.peakPssMiB, "MiB")}), ` +
          `verify ${formatValue(r.verifyMs, "ms")} (slowest ${formatValue(r.verifySlowestMs, "ms")}; ` +
          `checks alone ${formatValue(r.verifyWorkMs, "ms")}), query-frontend ${formatValue(r.queryMs, "ms")} ` +
          `(CPU per query: query path ${formatValue(r.queryCpuMs, "ms")}, fleet ${formatValue(r.fleetCpuMs, "ms")}), fleet CPU at rest ${formatValue(r.restCores, "cores")}\n`,
      );
      results.push(r);
    }
    process.stdout.write(`\n${report(results)}\n`);
    const name = (r: SizeResult, what: string) => `${r.workloads} workload clusters: ${what}`;
    return [
      ...results.flatMap((r): Figure[] => [
        { name: name(r, "up → all ready"), value: r.readyS, unit: "s" },
        { name: name(r, "peak fleet RSS"), value: r.peakRssMiB, unit: "MiB" },
        { name: name(r, "peak fleet PSS"), value: r.peakPssMiB, unit: "MiB" },
        { name: name(r, "verify"), value: r.verifyMs, unit: "ms", target: TARGET.verifyMs },
        { name: name(r, "verify checks alone"), value: r.verifyWorkMs, unit: "ms" },
        { name: name(r, "query-frontend instant query"), value: r.queryMs, unit: "ms" },
        { name: name(r, "query path CPU per query"), value: r.queryCpuMs, unit: "ms" },
        { name: name(r, "fleet CPU per query"), value: r.fleetCpuMs, unit: "ms" },
        { name: name(r, "fleet CPU at rest"), value: r.restCores, unit: "cores" },
      ]),
      ...growthFigures(results),
    ];
  },
};
