// Long-range dashboard queries over weeks of history from two workload clusters, against the guide's whole setup,
// a peer's tuned one (kube-thanos's defaults, over the guide's bucket) and thanos-fleet's, each bucket made by its own
// compactor from the same generated history: cold (first ask after a start) and warm (asked again), side by side,
// with each bucket's size and each answer's verdict.
import { table } from "../src/ui/table.ts";
import type { Benchmark, Figure, Options } from "./benchmark.ts";
import { type BenchFleet, planBenchFleet, Running, startStorage } from "./lib/fleet.ts";
import { compareAnswers, type Series, toleranceFor, type Verdict } from "./query/compare.ts";
import {
  type Configuration,
  fleetConfiguration,
  guideConfiguration,
  KUBE_THANOS_COMMIT,
  peerConfiguration,
} from "./query/configs.ts";
import {
  compactorOf,
  diskBytes,
  dropGenerated,
  type History,
  prepareHistory,
  type Setup,
} from "./query/history.ts";
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
  /** The last cold answer. */
  result?: Series[];
  /** Behind query-frontend: query's own answer to the same request, to hold the frontend's splitting to. */
  direct?: Series[];
  directResolution?: string;
  /** Why query alone gave no answer to compare with (a partial answer, say). */
  directError?: string;
}

/** Each setup's history (its bucket) and the fleet planned on it. */
const setups = new Map<Setup, { history: History; fleet: BenchFleet }>();
let history: History | undefined;
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

function bucketTotals(h: History): { bytes: number; objects: number; blocks: number } {
  return h.bucket.reduce(
    (t, b) => ({
      bytes: t.bytes + b.bytes,
      objects: t.objects + (b.objects ?? 0),
      blocks: t.blocks + b.blocks,
    }),
    { bytes: 0, objects: 0, blocks: 0 },
  );
}

async function prepare(options: Options): Promise<void> {
  const series = numberOption(options, "series", "THANOS_FLEET_BENCH_QUERY_SERIES");
  const days = numberOption(options, "days", "THANOS_FLEET_BENCH_QUERY_DAYS");
  for (const setup of ["guide", "fleet"] as const) {
    const h = await prepareHistory({ series, days }, setup);
    setups.set(setup, { history: h, fleet: await planBenchFleet(h.dir) });
  }
  await dropGenerated({ series, days });
  const h = setups.get("fleet")?.history as History;
  history = h;
  const samples = h.sources.reduce((n, s) => n + s.samples, 0);
  process.stdout.write(
    `  history: ${h.days} d × ${h.sources[0]?.series} series × ${h.sources.length} replicas ` +
      `(${h.sources.map((s) => `${s.labels.cluster}/${s.labels.prometheus_replica}`).join(", ")}), ` +
      `${(samples / 1e6).toFixed(0)} M samples at 30 s, written ${mib(h.writtenBytes)} in ` +
      `${h.sources.reduce((n, s) => n + s.blocks, 0)} blocks\n`,
  );
  for (const [setup, { history: x }] of setups) {
    const t = bucketTotals(x);
    process.stdout.write(
      `  ${setup}'s bucket (its compactor, made ${x.madeAt} in ${x.seconds.compact.toFixed(0)} s): ` +
        `${mib(t.bytes)} in ${t.objects} objects, ${t.blocks} blocks ` +
        `(${x.bucket.map((b) => `${b.resolution} ${b.blocks} blocks ${mib(b.bytes)}`).join(", ")}); ` +
        `cache on disk ${mib(await diskBytes(x.dir))}\n`,
    );
  }
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
async function measure(fleet: BenchFleet, config: Configuration, q: Query, warm: number): Promise<void> {
  if (!history) throw new Error("prepare did not run");
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
    const directLines = await follow(config.storeLog);
    let directError: string | undefined;
    const direct =
      config.queryUrl === config.url
        ? undefined
        : await ask(config.queryUrl, q, endS).catch((error: Error) => {
            directError = error.message;
            return undefined;
          });
    const directResolution = direct ? resolutionsRead(await directLines()) : undefined;
    const samples = cold.samples ?? direct?.samples;
    const m = measured.get(key(config.name, q)) ?? { cold: [], warm: [] };
    m.cold.push(cold.ms);
    m.warm.push(...warmAnswers.map((a) => a.ms));
    Object.assign(m, {
      samples,
      resolution,
      series: cold.series,
      total: cold.total,
      result: cold.result,
      direct: direct?.result,
      directResolution,
      directError,
    });
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
  const guide = setups.get("guide");
  const own = setups.get("fleet");
  if (!guide || !own || !history) throw new Error("prepare did not run");
  const warm = numberOption(options, "warm", "THANOS_FLEET_BENCH_QUERY_WARM");
  const queries = dashboard(rangesFor(history.days));
  const runs = [
    { fleet: guide.fleet, config: guideConfiguration(guide.fleet) },
    { fleet: guide.fleet, config: peerConfiguration(guide.fleet) },
    { fleet: own.fleet, config: fleetConfiguration(own.fleet) },
  ];
  const configs = runs.map((r) => r.config);
  const before = new Map([...measured].map(([k, m]) => [k, { cold: m.cold.length, warm: m.warm.length }]));
  // One setup after the other, each on its own storage (its bucket), the same addresses.
  for (const r of runs) {
    const storage = await startStorage(r.fleet);
    try {
      for (const q of queries) await measure(r.fleet, r.config, q, warm);
    } finally {
      await storage.stop();
    }
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
      const [a, p, b] = configs.map((c) => panels.reduce((t, q) => t + thisRun(c.name, q, which), 0)) as [
        number,
        number,
        number,
      ];
      const target = d === 30 ? (which === "cold" ? 8 : 20) : which === "warm" ? 20 : d === 7 ? 3 : 1;
      figures.push(
        { name: `${d} d dashboard ${which}, guide`, value: a / 1000, unit: "s" },
        { name: `${d} d dashboard ${which}, peer (kube-thanos)`, value: p / 1000, unit: "s" },
        { name: `${d} d dashboard ${which}, thanos-fleet`, value: b / 1000, unit: "s" },
        {
          name: `${d} d dashboard ${which}: guide ÷ thanos-fleet`,
          value: a / b,
          unit: "×",
          target,
          atLeast: true,
        },
        // Never slower than the peer's tuned setup either.
        {
          name: `${d} d dashboard ${which}: peer ÷ thanos-fleet`,
          value: p / b,
          unit: "×",
          target: 1,
          atLeast: true,
        },
      );
    }
  }
  const [g, f] = [guide, own].map((x) => bucketTotals(x.history)) as [
    ReturnType<typeof bucketTotals>,
    ReturnType<typeof bucketTotals>,
  ];
  figures.push(
    { name: "bucket bytes, guide", value: g.bytes / 2 ** 20, unit: "MiB" },
    { name: "bucket bytes, thanos-fleet", value: f.bytes / 2 ** 20, unit: "MiB" },
    {
      name: "bucket bytes: thanos-fleet ÷ guide",
      value: f.bytes / g.bytes,
      unit: "×",
      target: 0.6,
      atLeast: false,
    },
    { name: "bucket objects, guide", value: g.objects, unit: "count" },
    { name: "bucket objects, thanos-fleet", value: f.objects, unit: "count" },
  );
  return figures;
}

/**
 * A setup's answer against the guide's, at the tolerance for what both read: `deduplicated` when the setup's bucket
 * is the fleet's (deduplicated offline), not the guide's own.
 */
function versusGuide(a: Measured, b: Measured, deduplicated: boolean): Verdict {
  if (!a.result || !b.result) return { same: false, text: "no answer kept" };
  const tolerance = toleranceFor([a.resolution ?? "raw", b.resolution ?? "raw"], deduplicated);
  return compareAnswers(a.result, b.result, tolerance);
}

/** query-frontend's split and merged answer against query's own over the same bucket. */
function frontendVersusQuery(b: Measured): Verdict {
  if (b.directError) return { same: false, text: `query alone: ${b.directError}` };
  if (!b.result || !b.direct) return { same: true, text: "-" };
  return compareAnswers(
    b.direct,
    b.result,
    toleranceFor([b.resolution ?? "raw", b.directResolution ?? "raw"], false),
  );
}

/** Whether the fleet's compactor deduplicates HA pairs offline (its bucket then holds one stream per cluster). */
function fleetDeduplicates(): boolean {
  const own = setups.get("fleet");
  return own
    ? compactorOf(own.fleet, "fleet").args.some((a) => a.startsWith("--deduplication.replica-label="))
    : false;
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
    const p = get("peer", q);
    const b = get("thanos-fleet", q);
    if (!a || !p || !b) return [];
    const row = (which: "cold" | "warm") => [
      `${ms(median(a[which]))} / ${ms(p90(a[which]))}`,
      `${ms(median(p[which]))} / ${ms(p90(p[which]))}`,
      `${ms(median(b[which]))} / ${ms(p90(b[which]))}`,
      `${(median(a[which]) / median(b[which])).toFixed(1)}×`,
      `${(median(p[which]) / median(b[which])).toFixed(1)}×`,
    ];
    return [[q.name, ...row("cold"), ...row("warm")]];
  });
  const n = (x?: number) => (x === undefined ? "-" : x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : String(x));
  const read = queries.flatMap((q) => {
    const a = get("guide", q);
    const p = get("peer", q);
    const b = get("thanos-fleet", q);
    if (!a || !p || !b) return [];
    return [
      [
        q.name,
        `${n(a.samples)} / ${n(p.samples)} / ${n(b.samples)}`,
        `${a.resolution ?? "-"} / ${p.resolution ?? "-"} / ${b.resolution ?? "-"}`,
        versusGuide(a, p, false).text,
        versusGuide(a, b, fleetDeduplicates()).text,
        frontendVersusQuery(p).text,
        frontendVersusQuery(b).text,
      ],
    ];
  });
  const tolerances = [
    ...new Set(
      queries.flatMap((q) => {
        const a = get("guide", q);
        return (
          [
            ["peer", false],
            ["thanos-fleet", fleetDeduplicates()],
          ] as const
        ).flatMap(([name, deduplicated]) => {
          const b = get(name, q);
          if (!a || !b) return [];
          const t = toleranceFor([a.resolution ?? "raw", b.resolution ?? "raw"], deduplicated);
          return [`${t.relative.toExponential(0)}: ${t.why}`];
        });
      }),
    ),
  ];
  const storage = [...setups].map(([setup, { history: h }]) => {
    const t = bucketTotals(h);
    const who =
      setup === "guide" ? "guide and peer (no deduplication)" : "thanos-fleet (offline deduplication)";
    return [who, mib(t.bytes), String(t.objects), String(t.blocks)];
  });
  return [
    "Storage per bucket (each made by its own compactor from the same generated blocks; kube-thanos's compactor " +
      "at its defaults makes the guide's):",
    table(["BUCKET", "BYTES", "OBJECTS", "BLOCKS"], storage),
    `Setups: guide (thanos query over a store gateway, Thanos's defaults), peer (kube-thanos ${KUBE_THANOS_COMMIT.slice(0, 7)} ` +
      "defaults: query-frontend split by 24 h with a 2,048-item results cache, query with auto-downsampling, store " +
      "gateway with the default 250 MB index cache), thanos-fleet (its component specs).",
    "Latency per query, median / p90 (cold: first ask after a start, one per run; warm: asked again):",
    table(
      [
        "QUERY",
        "GUIDE COLD",
        "PEER COLD",
        "FLEET COLD",
        "GUIDE÷FLEET",
        "PEER÷FLEET",
        "GUIDE WARM",
        "PEER WARM",
        "FLEET WARM",
        "GUIDE÷FLEET",
        "PEER÷FLEET",
      ],
      latency,
    ),
    "What each cold query read (samples: the engine's totalQueryableSamples; resolution: the blocks the store " +
      "gateway read; guide / peer / fleet) and the verdicts: each answer against the guide's, and each " +
      "query-frontend's against its own query's:",
    table(
      [
        "QUERY",
        "SAMPLES",
        "RESOLUTION",
        "PEER = GUIDE",
        "FLEET = GUIDE",
        "PEER FRONTEND = QUERY",
        "FLEET FRONTEND = QUERY",
      ],
      read,
    ),
    `Tolerances (relative): ${tolerances.join("; ")}; raw on both sides ${(1e-9).toExponential(0)}.`,
  ].join("\n");
}

export const benchmark: Benchmark = {
  name: "query",
  description:
    "1, 7 and 30 d dashboards over cached history (2 clusters × 2 replicas): the guide's whole setup, a peer's (kube-thanos defaults) and thanos-fleet's, each on its compactor's bucket",
  runs: 3,
  // Its first run makes the history (about 35 min on 2 cores); every run restarts the configurations 30 times.
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
