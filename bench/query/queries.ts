// The dashboard the query benchmark opens: three panels over 1, 7 and 30 days, and one instant query over all
// series; each call timed, with the samples the engine touched and the block resolutions the store gateway read.
import { open, stat } from "node:fs/promises";
import type { Series } from "./compare.ts";

const DAY_S = 86_400;
const SCRAPE_S = 30;

export interface Query {
  /** Names the query in the report, e.g. `30d sum(rate)`. */
  name: string;
  kind: "range" | "instant";
  expr: string;
  /** Range queries: the range and step, in seconds. */
  rangeS?: number;
  stepS?: number;
}

/**
 * A dashboard's step: the range over about 1,440 points (a panel's width), as Grafana picks it: 1 min for a day,
 * 10 min for a week, 30 min for 30 days.
 */
const STEP_S: Record<number, number> = { 1: 60, 7: 600, 30: 1800 };

/**
 * Grafana's `$__rate_interval` with a 5 min floor: at least one step plus a scrape, so that every step's window holds
 * samples whatever resolution the data is read at (a fixed [5m] over 5 min downsampled data holds one sample and
 * gives no rate at all).
 */
function rateWindow(stepS: number): string {
  return `${Math.max(300, stepS + SCRAPE_S)}s`;
}

export function dashboard(days: number[]): Query[] {
  const out: Query[] = [];
  for (const d of days) {
    const stepS = STEP_S[d] ?? Math.round((d * DAY_S) / 1440);
    const w = rateWindow(stepS);
    const range = { kind: "range" as const, rangeS: d * DAY_S, stepS };
    out.push(
      { name: `${d}d sum(rate)`, ...range, expr: `sum by (cluster) (rate(http_requests_total[${w}]))` },
      {
        name: `${d}d p90 histogram`,
        ...range,
        expr: `histogram_quantile(0.9, sum by (le, cluster) (rate(http_request_duration_seconds_bucket[${w}])))`,
      },
      {
        name: `${d}d topk(10)`,
        ...range,
        expr: `topk(10, sum by (cluster, namespace, pod) (rate(process_cpu_seconds_total[${w}])))`,
      },
    );
  }
  out.push({ name: "instant: every series", kind: "instant", expr: 'count by (cluster) ({job!=""})' });
  return out;
}

export interface Answer {
  ms: number;
  /** Series in the result. */
  series: number;
  /** Sum of every value of the result: the two configurations should agree on it. */
  total: number;
  /** `samples.totalQueryableSamples` of the answer's stats. */
  samples: number | undefined;
  /** The answer itself, each series with its points (an instant answer's one value as its one point). */
  result: Series[];
}

interface ApiAnswer {
  status: string;
  error?: string;
  /** Set on a partial answer: a store failed (a limit, say) and query answered with what the others gave. */
  warnings?: string[];
  data?: {
    result: { metric?: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];
    stats?: { samples?: { totalQueryableSamples?: number } };
  };
}

/**
 * PromQL's own annotations ("PromQL info: …", "PromQL warning: …", e.g. histogram_quantile fixing buckets that are
 * not monotonic) come among the warnings but say nothing is missing: the answer is whole. Every other warning is a
 * store's failure (a limit, an unreachable store) that query answered around with partial response.
 */
export function isAnnotation(warning: string): boolean {
  return /^PromQL (info|warning): /.test(warning);
}

/** Asks the query API at `url` at data end `endS` (Unix s); rejects on an error or a partial answer. */
export async function ask(url: string, q: Query, endS: number): Promise<Answer> {
  const params = new URLSearchParams({ query: q.expr, stats: "all" });
  if (q.kind === "range") {
    params.set("start", String(endS - (q.rangeS ?? 0)));
    params.set("end", String(endS));
    params.set("step", String(q.stepS));
  } else {
    params.set("time", String(endS));
  }
  const path = q.kind === "range" ? "/api/v1/query_range" : "/api/v1/query";
  const t0 = performance.now();
  const res = await fetch(`${url}${path}?${params}`, { signal: AbortSignal.timeout(300_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let body: ApiAnswer;
  try {
    body = JSON.parse(text) as ApiAnswer;
  } catch {
    throw new Error(`${q.name} at ${url}: HTTP ${res.status}, not an API answer: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200 || body.status !== "success" || !body.data) {
    throw new Error(
      `${q.name} at ${url}: HTTP ${res.status} ${body.error ?? JSON.stringify(body).slice(0, 300)}`,
    );
  }
  const partial = (body.warnings ?? []).filter((w) => !isAnnotation(w));
  if (partial.length > 0) {
    throw new Error(`${q.name} at ${url}: a partial answer: ${partial.join("; ").slice(0, 300)}`);
  }
  let total = 0;
  for (const s of body.data.result) {
    for (const [, v] of s.values ?? (s.value ? [s.value] : [])) {
      const x = Number(v);
      if (Number.isFinite(x)) total += x;
    }
  }
  return {
    ms,
    series: body.data.result.length,
    total,
    samples: body.data.stats?.samples?.totalQueryableSamples,
    result: body.data.result.map((s) => ({
      metric: s.metric ?? {},
      values: s.values ?? (s.value ? [s.value] : []),
    })),
  };
}

const RESOLUTION_NAMES: Record<string, string> = { "0": "raw", "300000": "5m", "3600000": "1h" };

/** Follows a log file from its current end: what was appended since. */
export async function follow(log: string): Promise<() => Promise<string>> {
  const from = await stat(log).then(
    (s) => s.size,
    () => 0,
  );
  return async () => {
    const to = (await stat(log)).size;
    if (to <= from) return "";
    const f = await open(log, "r");
    try {
      const buf = Buffer.alloc(to - from);
      await f.read(buf, 0, buf.length, from);
      return buf.toString("utf8");
    } finally {
      await f.close();
    }
  };
}

/**
 * The resolutions of the blocks the store gateway read, from its debug lines "Blocks source resolutions"
 * (`Range: <mint>-<maxt> Resolution: <ms>` per span); "none" when it read no block (a cached answer).
 */
export function resolutionsRead(logText: string): string {
  const seen = new Set<string>();
  for (const line of logText.split("\n")) {
    if (!line.includes("Blocks source resolutions")) continue;
    for (const m of line.matchAll(/Resolution: ([0-9]+)/g)) {
      seen.add(RESOLUTION_NAMES[m[1] as string] ?? `${m[1]} ms`);
    }
  }
  const order = ["raw", "5m", "1h"];
  return seen.size === 0 ? "none" : [...seen].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join("+");
}
