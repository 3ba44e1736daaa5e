// Holes in the global view, measured one way for verify's `gaps` check and for the drill: the raw samples of every
// replica of a series merged (what deduplication draws from), and the stretches with none for longer than
// deduplication can bridge.
import { join } from "../net/http.ts";
import { RECEIVE_REPLICA_LABEL } from "../topology/semantics.ts";

/** The label that tells the Prometheus replicas of one cluster apart (query deduplicates on it). */
export const REPLICA_LABEL = "prometheus_replica";

/** A series of a raw range-selector answer: its labels and samples `[seconds, value]`. */
export interface RawSeries {
  metric: Record<string, string>;
  values?: [number, string][];
}

/** One series of the global view: its labels without the replica label, and the times (ms) any replica sampled it. */
export interface MergedSeries {
  labels: Record<string, string>;
  /** Sorted, ms since the epoch. */
  times: number[];
}

/** No sample of a series between two times (ms): the last sample before the hole and the first one after. */
export interface Hole {
  from: number;
  to: number;
}

/**
 * The query-frontend URL of every replica's raw samples of `selector` in (from, to]: an instant query of a range
 * selector without deduplication, so that each sample comes back with its own time.
 */
export function rawSamplesUrl(queryFrontend: string, selector: string, from: number, to: number): string {
  const params = new URLSearchParams({
    query: `${selector}[${Math.ceil((to - from) / 1000)}s]`,
    dedup: "false",
    partial_response: "true",
    time: String(to / 1000),
  });
  return join(queryFrontend, `/api/v1/query?${params}`);
}

/** Two scrape intervals and two seconds: deduplication may show that much where it switches replica. */
export function allowedGapMs(scrapeMs: number): number {
  return 2 * scrapeMs + 2000;
}

/**
 * The longest stretch without a sample, of every replica's samples merged, that loses nothing: while any replica
 * scrapes, merged samples come at least once a scrape interval (a restart of one replica included); beyond one and
 * a half intervals, every replica lost at least one scrape at the same time. (The drill allows the deduplicated
 * answer more, allowedGapMs, for where deduplication switches replica.)
 */
export function lostScrapeMs(scrapeMs: number): number {
  return Math.round(1.5 * scrapeMs);
}

/** Each series with its replicas' samples merged, leaving out the series `skip` names. */
export function mergeReplicas(
  series: RawSeries[],
  skip: (labels: Record<string, string>) => boolean = () => false,
): MergedSeries[] {
  const merged = new Map<string, MergedSeries>();
  for (const s of series) {
    if (skip(s.metric)) continue;
    // A receive ingester's copy is one more replica of the same samples: any copy of any replica fills the view.
    const { [REPLICA_LABEL]: _, [RECEIVE_REPLICA_LABEL]: __, ...labels } = s.metric;
    const key = JSON.stringify(Object.entries(labels).sort());
    const entry = merged.get(key) ?? { labels, times: [] };
    entry.times.push(...(s.values ?? []).map(([t]) => t * 1000));
    merged.set(key, entry);
  }
  for (const m of merged.values()) m.times.sort((a, b) => a - b);
  return [...merged.values()];
}

/** The stretches between two samples of a series longer than `allowedMs`. */
export function holesOf(times: number[], allowedMs: number): Hole[] {
  const out: Hole[] = [];
  for (let i = 1; i < times.length; i++) {
    const from = times[i - 1] as number;
    const to = times[i] as number;
    if (to - from > allowedMs) out.push({ from, to });
  }
  return out;
}

/** Overlapping or touching holes as one, sorted by start. */
export function unionHoles(holes: Hole[]): Hole[] {
  const sorted = [...holes].sort((a, b) => a.from - b.from);
  const out: Hole[] = [];
  for (const h of sorted) {
    const last = out[out.length - 1];
    if (last && h.from <= last.to) last.to = Math.max(last.to, h.to);
    else out.push({ ...h });
  }
  return out;
}

/**
 * The widest stretch without a sample in any series up to `to` (the end counts: a series that stopped is a gap to
 * `to`), among series that had a sample before `since`: a series that began later was not there to lose.
 */
export function widestGap(series: MergedSeries[], since: number, to: number): number {
  let widest = 0;
  for (const { times } of series) {
    if (times.length === 0 || (times[0] as number) >= since) continue;
    for (let i = 1; i < times.length; i++)
      widest = Math.max(widest, (times[i] as number) - (times[i - 1] as number));
    widest = Math.max(widest, to - (times[times.length - 1] as number));
  }
  return widest;
}
