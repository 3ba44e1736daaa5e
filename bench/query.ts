// Long-range dashboard queries over weeks of history from two workload clusters, against the guide's configuration
// and thanos-fleet's, on the same bucket: cold (first ask after a start) and warm (asked again), side by side.
import { table } from "../src/ui/table.ts";
import type { Benchmark, Figure, Options } from "./benchmark.ts";
import { type BenchFleet, planBenchFleet, Running, startStorage } from "./lib/fleet.ts";
import { type Configuration, fleetConfiguration, guideConfiguration } from "./query/configs.ts";
import { diskBytes, type History, prepareHistory } from "./query/history.ts";
import { type Answer, ask, dashboard, follow, type Query, resolutionsRead } from "./query/queries.ts";

const DEFAULTS = { series: 1000, days: 30, warm: 3 };

/** Figures per query and configuration, over every run. */
interface Measured {
  cold: number[];
  warm: number[];
  samples?: number;
  resolution?: string;
  series?: number;
  total?: number;
}

let history: History | undefined;
let fleet: BenchFleet | undefined;
const measured = new Map<string, Measured>();

function numberOption(options: Options, name: keyof typeof DEFAULTS, env: string): number {
  const raw = options[name] ?? process.env[env];
  if (raw === undefined) return DEFAULTS[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${raw}: give a whole number, 1 or more`);
  return n;
}

function rangesFor(days: number): number[] {
  return [1, 7, 30].filter((d) => d <= days);
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

async function prepare(options: Options): Promise<void> {
  const series = numberOption(options, "series", "THANOS_FLEET_BENCH_QUERY_SERIES");
  const days = numberOption(options, "days", "THANOS_FLEET_BENCH_QUERY_DAYS");
  history = await prepareHistory({ series, days });
  fleet = await planBenchFleet(history.dir);
  const h = history;
  const samples = h.sources.reduce((n, s) => n + s.samples, 0);
  process.stdout.write(
    `  history: ${h.days} d × ${h.sources[0]?.series} series × ${h.sources.length} replicas ` +
      `(${h.sources.map((s) => `${s.labels.cluster}/${s.labels.prometheus_replica}`).join(", ")}), ` +
      `${(samples / 1e6).toFixed(0)} M samples at 30 s\n` +
      `  made in ${h.seconds.total.toFixed(0)} s (write ${h.seconds.generate.toFixed(0)} s, upload ${h.seconds.upload.toFixed(0)} s, ` +
      `compact and downsample ${h.seconds.compact.toFixed(0)} s) on ${h.madeAt}\n` +
      `  written ${mib(h.writtenBytes)} in ${h.sources.reduce((n, s) => n + s.blocks, 0)} blocks; bucket now: ` +
      `${h.bucket.map((b) => `${b.resolution} ${b.blocks} blocks ${mib(b.bytes)}`).join(", ")}; ` +
      `cache on disk ${mib(await diskBytes(h.dir))}\n`,
  );
}

function key(config: string, q: Query): string {
  return `${config}\t${q.name}`;
}

/** Waits until query lists the store gateway as a healthy endpoint holding the history's start. */
async function storeDiscovered(queryUrl: string, start: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${queryUrl}/api/v1/stores`);
      const body = (await res.json()) as {
        data?: Record<string, { lastError: string | null; minTime: number }[] | undefined>;
      };
      const stores = Object.values(body.data ?? {}).flatMap((x) => x ?? []);
      if (stores.some((s) => s.lastError === null && s.minTime <= start)) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`${queryUrl} did not discover the store gateway within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One query, cold then `warm` times again, on a configuration started for it alone (empty caches). */
async function measure(config: Configuration, q: Query, warm: number): Promise<void> {
  if (!fleet || !history) throw new Error("prepare did not run");
  const running = new Running(fleet);
  try {
    await running.start(config.processes);
    await storeDiscovered(config.queryUrl, history.start);
    const endS = Math.floor(history.end / 1000);
    const storeLines = await follow(config.storeLog);
    const cold = await ask(config.url, q, endS);
    const resolution = resolutionsRead(await storeLines());
    const warmAnswers: Answer[] = [];
    for (let i = 0; i < warm; i++) warmAnswers.push(await ask(config.url, q, endS));
    // query-frontend passes the engine's stats on only with --query-frontend.force-query-stats (which makes every
    // query compute them): behind it, ask query itself once more, untimed, with the same parameters.
    const samples = cold.samples ?? (await ask(config.queryUrl, q, endS)).samples;
    const m = measured.get(key(config.name, q)) ?? { cold: [], warm: [] };
    m.cold.push(cold.ms);
    m.warm.push(...warmAnswers.map((a) => a.ms));
    Object.assign(m, { samples, resolution, series: cold.series, total: cold.total });
    measured.set(key(config.name, q), m);
  } finally {
    await running.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The nearest-rank 90th percentile. */
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(0.9 * s.length) - 1)] as number;
}

async function run(_index: number, options: Options): Promise<Figure[]> {
  if (!fleet || !history) throw new Error("prepare did not run");
  const warm = numberOption(options, "warm", "THANOS_FLEET_BENCH_QUERY_WARM");
  const queries = dashboard(rangesFor(history.days));
  const configs = [guideConfiguration(fleet), fleetConfiguration(fleet)];
  const before = new Map([...measured].map(([k, m]) => [k, { cold: m.cold.length, warm: m.warm.length }]));
  const storage = await startStorage(fleet);
  try {
    for (const config of configs) {
      for (const q of queries) await measure(config, q, warm);
    }
  } finally {
    await storage.stop();
  }
  // This run's figures: each range's dashboard (its three panels one after another), cold and warm.
  const thisRun = (config: string, q: Query, which: "cold" | "warm") => {
    const m = measured.get(key(config, q)) as Measured;
    const from = before.get(key(config, q))?.[which] ?? 0;
    return median(m[which].slice(from));
  };
  const figures: Figure[] = [];
  for (const d of rangesFor(history.days)) {
    const panels = queries.filter((q) => q.name.startsWith(`${d}d `));
    for (const which of ["cold", "warm"] as const) {
      const [a, b] = configs.map((c) => panels.reduce((t, q) => t + thisRun(c.name, q, which), 0)) as [
        number,
        number,
      ];
      const target = d === 30 ? (which === "cold" ? 5 : 20) : d === 7 && which === "cold" ? 3 : undefined;
      figures.push(
        { name: `${d} d dashboard ${which}, guide`, value: a / 1000, unit: "s" },
        { name: `${d} d dashboard ${which}, thanos-fleet`, value: b / 1000, unit: "s" },
        {
          name: `${d} d dashboard ${which}: guide ÷ thanos-fleet`,
          value: a / b,
          unit: "×",
          ...(target ? { target, atLeast: true } : {}),
        },
      );
    }
  }
  return figures;
}

function ms(x: number): string {
  return x >= 10_000
    ? `${(x / 1000).toFixed(1)} s`
    : x >= 1000
      ? `${(x / 1000).toFixed(2)} s`
      : `${Math.round(x)} ms`;
}

function summary(): string {
  if (!history) return "";
  const queries = dashboard(rangesFor(history.days));
  const get = (c: string, q: Query) => measured.get(key(c, q));
  const latency = queries.flatMap((q) => {
    const a = get("guide", q);
    const b = get("thanos-fleet", q);
    if (!a || !b) return [];
    const row = (which: "cold" | "warm") => [
      `${ms(median(a[which]))} / ${ms(p90(a[which]))}`,
      `${ms(median(b[which]))} / ${ms(p90(b[which]))}`,
      `${(median(a[which]) / median(b[which])).toFixed(1)}×`,
    ];
    return [[q.name, ...row("cold"), ...row("warm")]];
  });
  const read = queries.flatMap((q) => {
    const a = get("guide", q);
    const b = get("thanos-fleet", q);
    if (!a || !b) return [];
    const agree =
      a.series === b.series && Math.abs((a.total ?? 0) - (b.total ?? 0)) <= 0.05 * Math.abs(a.total ?? 0)
        ? "yes"
        : `no: ${a.series} vs ${b.series} series, sums ${a.total?.toPrecision(4)} vs ${b.total?.toPrecision(4)}`;
    const n = (x?: number) => (x === undefined ? "-" : x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : String(x));
    return [[q.name, n(a.samples), n(b.samples), a.resolution ?? "-", b.resolution ?? "-", agree]];
  });
  return [
    "Latency per query, median / p90 (cold: first ask after a start, one per run; warm: asked again):",
    table(["QUERY", "GUIDE COLD", "FLEET COLD", "COLD ×", "GUIDE WARM", "FLEET WARM", "WARM ×"], latency),
    "What each cold query read (samples: the engine's totalQueryableSamples; resolution: the blocks the store gateway read):",
    table(["QUERY", "GUIDE SAMPLES", "FLEET SAMPLES", "GUIDE RES", "FLEET RES", "SAME ANSWER (±5%)"], read),
  ].join("\n");
}

export const benchmark: Benchmark = {
  name: "query",
  description:
    "1, 7 and 30 d dashboards over cached history (2 clusters × 2 replicas), guide vs thanos-fleet configuration",
  runs: 3,
  // Its first run makes the history (about 15 min on 2 cores); every run restarts the configurations 20 times.
  onlyWhenNamed: true,
  options: {
    series: `series per Prometheus replica (default ${DEFAULTS.series}; or THANOS_FLEET_BENCH_QUERY_SERIES)`,
    days: `days of history (default ${DEFAULTS.days}; or THANOS_FLEET_BENCH_QUERY_DAYS)`,
    warm: `asks of each query after the cold one, per run (default ${DEFAULTS.warm})`,
  },
  prepare,
  run,
  summary,
};
