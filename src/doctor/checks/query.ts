// Query's own settings: downsampling over long ranges, and timeouts that undo each other.
import { durationOr, formatDuration } from "../../duration.ts";
import { flagsAt } from "../labels.ts";
import type { Component, Finding, Observation } from "../types.ts";
import { compactors, retentions } from "./compactor.ts";

/** Query itself and every query given with --metrics, with their flags. */
function queries(o: Observation): Component[] {
  const all = [o.query, ...o.components.filter((c) => c.kind === "query" && c.url !== o.query.url)];
  // A query-frontend answers /api/v1/status/flags with its downstream query's flags.
  return all.filter((c) => (c.kind === "query" || c.kind === "query-frontend") && c.flags);
}

export function noAutoDownsampling(o: Observation): Finding[] {
  const off = queries(o).filter((c) => c.flags?.["query.auto-downsampling"] === "false");
  // A query-frontend's own flags are read from its Kubernetes object only (its flags API answers with its query's).
  const frontends = o.components.filter(
    (c) => c.kind === "query-frontend" && c.flags?.["query-range.request-downsampled"] === "false",
  );
  if (off.length === 0 && frontends.length === 0) return [];
  // Raw data kept for less than the downsampled: past it, long ranges read raw data that is gone, and show nothing.
  const short = compactors(o)
    .map((c) => ({ c, r: retentions(c) }))
    .filter(({ r }) => r && r.raw > 0 && (r.fiveM === 0 || r.fiveM > r.raw));
  return [
    {
      id: "no-auto-downsampling",
      severity: short.length > 0 ? "error" : "warning",
      title:
        short.length > 0
          ? `query reads only raw data, which is kept ${formatDuration(short[0]?.r?.raw ?? 0)}: ranges older than that show no data`
          : "query reads raw data for every range: long ranges are slow and heavy though downsampled data exists for them",
      evidence: [
        ...off.map((c) => `${flagsAt(c)}: query.auto-downsampling=false`),
        ...frontends.map((c) => `${flagsAt(c)}: query-range.request-downsampled=false`),
        ...short.map(
          ({ c }) =>
            `${flagsAt(c)}: retention.resolution-raw=${c.flags?.["retention.resolution-raw"]}, retention.resolution-5m=${c.flags?.["retention.resolution-5m"]}`,
        ),
      ],
      fix: "--query.auto-downsampling on query (and --query-range.request-downsampled on query-frontend)",
    },
  ];
}

export function timeoutsUndoEachOther(o: Observation): Finding[] {
  const findings: Finding[] = [];
  for (const c of queries(o)) {
    const query = durationOr(c.flags?.["query.timeout"], 0);
    const store = durationOr(c.flags?.["store.response-timeout"], 0);
    if (query > 0 && store > 0 && query <= store) {
      findings.push({
        id: "query-timeout-below-store-timeout",
        severity: "error",
        title: `query gives up on a whole query after ${formatDuration(query)}, before its ${formatDuration(store)} wait for one store: a slow store fails every query instead of being left out`,
        evidence: [
          `${flagsAt(c)}: query.timeout=${c.flags?.["query.timeout"]}, store.response-timeout=${c.flags?.["store.response-timeout"]}`,
        ],
        fix: "make --store.response-timeout shorter than --query.timeout (e.g. 30s against 2m), so partial responses can leave a slow store out",
      });
    }
  }
  return findings;
}
