// A query-frontend's splitting, alignment and results cache, where they defeat each other: learnt over HTTP from
// what it does with doctor's range query, or from its Kubernetes object's args.
import { durationOr, formatDuration } from "../../duration.ts";
import { flagsAt, iso } from "../labels.ts";
import { FRONTEND_PROBE_AGE_MS } from "../observe.ts";
import type { Component, Finding, Observation } from "../types.ts";

function frontends(o: Observation): Component[] {
  const all = [o.query, ...o.components.filter((c) => c.url !== o.query.url)];
  return all.filter((c) => c.kind === "query-frontend" && !c.error);
}

/** Its object's args give it a results cache for range queries. */
function cachedByArgs(c: Component): boolean {
  return Boolean(
    c.flags?.["query-range.response-cache-config"] || c.flags?.["query-range.response-cache-config-file"],
  );
}

function probeEvidence(c: Component): string {
  const p = c.frontend;
  const cache = p?.cache;
  return `${p?.url}, asked twice: cortex_cache_fetched_keys_total{tripperware="query_range"} ${cache?.fetchedBefore} → ${cache?.fetchedAfter}, cortex_cache_hits_total ${cache?.hitsBefore} → ${cache?.hitsAfter}`;
}

export function frontendCacheBypassed(o: Observation): Finding[] {
  const evidence: string[] = [];
  for (const c of frontends(o)) {
    const cache = c.frontend?.cache;
    if (cache && cache.fetchedAfter === cache.fetchedBefore) evidence.push(probeEvidence(c));
    if (c.source === "kube" && cachedByArgs(c)) {
      const freshness = c.flags?.["query-range.response-cache-max-freshness"];
      if (durationOr(freshness, 60_000) >= FRONTEND_PROBE_AGE_MS) {
        evidence.push(`${flagsAt(c)}: query-range.response-cache-max-freshness=${freshness}`);
      }
    }
  }
  if (evidence.length === 0) return [];
  return [
    {
      id: "frontend-cache-bypassed",
      severity: "warning",
      title: `query-frontend has a results cache that range queries never reach: anything newer than its max freshness (${formatDuration(FRONTEND_PROBE_AGE_MS)} or more) is never cached, so every dashboard refresh runs again`,
      evidence,
      fix: "--query-range.response-cache-max-freshness=1m (Thanos's default) or a few minutes on query-frontend: only the newest minutes are still in flux",
    },
  ];
}

export function frontendUnaligned(o: Observation): Finding[] {
  const evidence: string[] = [];
  for (const c of frontends(o)) {
    const p = c.frontend;
    if (p?.cache && p.firstTimestamp !== undefined && p.firstTimestamp === p.start) {
      evidence.push(
        `${p.url}: the answer starts at ${iso(p.firstTimestamp)}, the unaligned start asked (an aligning frontend moves it back onto the 60 s step)`,
      );
    }
    if (
      c.source === "kube" &&
      cachedByArgs(c) &&
      c.flags?.["query-range.align-range-with-step"] === "false"
    ) {
      evidence.push(`${flagsAt(c)}: query-range.align-range-with-step=false with a results cache`);
    }
  }
  if (evidence.length === 0) return [];
  return [
    {
      id: "frontend-unaligned-cache",
      severity: "warning",
      title:
        "query-frontend caches range queries without aligning them to their step: each refresh asks other timestamps, which the cache cannot reuse (or reuses for the wrong ones)",
      evidence,
      fix: "drop --no-query-range.align-range-with-step from query-frontend (alignment is on by default)",
    },
  ];
}
