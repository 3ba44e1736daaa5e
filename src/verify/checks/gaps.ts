// The `gaps` check: no workload cluster's global view lost samples recently. Every replica of a cluster down at once
// (both Prometheus killed together, say) leaves a stretch that deduplication cannot fill, even when everything runs
// again by the time verify looks: every replica's `up` of the peer job is read over the last 15 minutes, merged as
// deduplication draws from it, and a stretch with no sample from any replica beyond one and a half scrape intervals
// (every replica lost a scrape at once) is a hole, named with its cluster and times.
import { durationOr } from "../../duration.ts";
import type { Workload } from "../../topology/topology.ts";
import { describeLabels } from "../expect.ts";
import {
  type Hole,
  holesOf,
  lostScrapeMs,
  mergeReplicas,
  type RawSeries,
  rawSamplesUrl,
  unionHoles,
} from "../gaps.ts";
import { type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, plural, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const GAPS: CheckInfo = { id: "gaps", title: "no recent hole in a cluster's global view" };

/** How far back verify looks for holes. */
export const GAPS_WINDOW_MS = 15 * 60_000;

/**
 * The series read: every replica scrapes every replica at fixed addresses (the `prometheus` peer job of the component
 * spec, on both runtimes), so each cluster has as many series as replicas, each written by all of them.
 */
export const GAPS_SELECTOR = 'up{job="prometheus"}';

/** `03:41:12` of an ISO time, UTC. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `2026-12-07 03:41:12 to 03:41:58 UTC (46 s)`. */
export function describeHole(h: Hole): string {
  const day = new Date(h.from).toISOString().slice(0, 10);
  return `${day} ${clock(h.from)} to ${clock(h.to)} UTC (${Math.round((h.to - h.from) / 1000)} s)`;
}

function belongsTo(w: Workload, labels: Record<string, string>): boolean {
  return Object.entries(w.labels).every(([k, v]) => labels[k] === v);
}

export async function checkGaps(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const now = probe.now().getTime();
  const from = now - GAPS_WINDOW_MS;
  const url = rawSamplesUrl(endpoints.queryFrontend, GAPS_SELECTOR, from, now);
  let series: RawSeries[];
  try {
    const body = await probe.json<{ status: string; error?: string; data?: { result: RawSeries[] } }>(url);
    if (body.status !== "success" || !body.data)
      throw new Error(`answered ${body.status}: ${body.error ?? "no data"}`);
    series = body.data.result;
  } catch (error) {
    const why = await unavailable(probe, endpoints.queryFrontend, error, "query-frontend");
    return fail(GAPS, [
      {
        what: `query-frontend at ${endpoints.queryFrontend} did not answer the last ${GAPS_WINDOW_MS / 60_000} minutes of ${GAPS_SELECTOR}: ${reason(error)}`,
        cause: why.cause,
        fix: why.fix ?? "see check query",
      },
    ]);
  }
  // A hole that began before the fleet (or the cluster's Prometheus) was last brought up from nothing is the time it
  // was down, not a fault.
  const sinceOf = (cluster: string) =>
    Math.max(
      ...[endpoints.upSince, endpoints.clusterUpSince?.[cluster]].map((t) =>
        t ? Date.parse(t) : Number.NEGATIVE_INFINITY,
      ),
    );
  const problems: CheckProblem[] = [];
  let read = 0;
  for (const w of topology.workloads) {
    const allowed = lostScrapeMs(durationOr(w.prometheus.scrapeInterval, 15_000));
    const mine = mergeReplicas(series.filter((s) => belongsTo(w, s.metric)));
    read += mine.length;
    const since = sinceOf(w.name);
    const holes = unionHoles(mine.flatMap((s) => holesOf(s.times, allowed)).filter((h) => h.from >= since));
    if (holes.length === 0) continue;
    problems.push({
      what:
        `the global view of ${w.name} ${describeLabels(w.labels)} has ${plural(holes.length, "hole")}: no sample of ` +
        `${GAPS_SELECTOR} from any replica ${holes.map(describeHole).join(", ")} ` +
        `(more than ${allowed / 1000} s: every replica missed a scrape at once)`,
      cause: `every Prometheus replica of ${w.name} was down or not scraping at once (killed or restarted together, or all unreachable from their targets): deduplication had nothing to fill the hole with, and those samples are lost`,
      fix:
        "nothing brings the lost samples back; if the cluster is whole again (see check query), find why its replicas stopped together: " +
        "`thanos-fleet status` shows each one's RESTARTS and last exit. " +
        `This check passes again once the hole is more than ${GAPS_WINDOW_MS / 60_000} minutes old`,
    });
  }
  if (problems.length > 0) return fail(GAPS, problems);
  return pass(
    GAPS,
    `${topology.workloads.map((w) => w.name).join(", ")}: no stretch without a sample of ${GAPS_SELECTOR} over the last ${GAPS_WINDOW_MS / 60_000} minutes (${plural(read, "series", "series")} read)`,
  );
}
