// The `query` check: through query-frontend, every workload cluster answers, and deduplication collapses its
// replicas.

import { prometheusLabels } from "../../components/thanos/sidecar.ts";
import { durationOr } from "../../duration.ts";
import { join } from "../../net/http.ts";
import type { Workload } from "../../topology/topology.ts";
import { describeLabels, inspectHint, sameLabels, target } from "../expect.ts";
import { type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, pending, reason, shortGrpcError } from "../result.ts";
import type { CheckResult } from "../types.ts";
import { readStores } from "./stores.ts";
import { dataSince } from "./timing.ts";

export const QUERY: CheckInfo = { id: "query", title: "query-frontend returns every cluster, deduplicated" };

const REPLICA_LABEL = "prometheus_replica";

interface VectorAnswer {
  series: Record<string, string>[];
  warnings: string[];
}

/**
 * One series per replica (per cluster with dedup) of `up` scraped recently: old samples that only the store
 * gateway still holds do not count, so a replica that stopped shows as missing.
 */
export function fleetQuery(workloads: Workload[]): string {
  const names = [...new Set(workloads.flatMap((w) => Object.keys(w.labels)))].sort();
  return `group by (${[...names, REPLICA_LABEL].join(", ")}) (timestamp(up) > time() - ${freshWindowSeconds(workloads)})`;
}

/** Samples count as recent for three scrape intervals, at least a minute. */
function freshWindowSeconds(workloads: Workload[]): number {
  return Math.max(
    60,
    ...workloads.map((w) => 3 * Math.round(durationOr(w.prometheus.scrapeInterval, 15_000) / 1000)),
  );
}

async function instant(probe: Probe, query: string, dedup: boolean): Promise<VectorAnswer> {
  const params = new URLSearchParams({ query, dedup: String(dedup), partial_response: "true" });
  const url = join(probe.endpoints.queryFrontend, `/api/v1/query?${params}`);
  const body = await probe.json<{
    status: string;
    error?: string;
    warnings?: string[];
    data?: { resultType: string; result: { metric: Record<string, string> }[] };
  }>(url);
  if (body.status !== "success" || !body.data)
    throw new Error(`${url} answered ${body.status}: ${body.error ?? "no data"}`);
  return { series: body.data.result.map((r) => r.metric), warnings: body.warnings ?? [] };
}

function belongsTo(w: Workload, series: Record<string, string>): boolean {
  return Object.entries(w.labels).every(([k, v]) => series[k] === v);
}

export async function checkQuery(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const q = fleetQuery(topology.workloads);
  let deduped: VectorAnswer;
  let raw: VectorAnswer;
  try {
    [deduped, raw] = await Promise.all([instant(probe, q, true), instant(probe, q, false)]);
  } catch (error) {
    const why = await unavailable(probe, endpoints.queryFrontend, error, "query-frontend");
    return fail(QUERY, [
      {
        what: `query-frontend at ${endpoints.queryFrontend} did not answer: ${reason(error)}`,
        cause: why.kind === "failing" ? `${why.cause} (query behind it down?)` : why.cause,
        fix:
          why.fix ??
          `check thanos-query-frontend and thanos-query in ${topology.observer.name} with \`thanos-fleet status\``,
      },
    ]);
  }
  const problems: CheckProblem[] = [];
  const mgmt = topology.observer.name;
  const now = probe.now().getTime();
  const { views } = await readStores(probe);
  const windowMs = freshWindowSeconds(topology.workloads) * 1000;
  /** A replica whose sidecar query lists healthy, with no sample yet or its first one moments ago: just started. */
  const starting = (w: Workload, pod: string): boolean => {
    const labels = prometheusLabels(w, pod);
    const listed = views.some((v) =>
      v.entries.some(
        (e) =>
          e.type === "sidecar" && !e.lastError && !e.stale && e.labelSets.some((l) => sameLabels(l, labels)),
      ),
    );
    const since = dataSince(views, labels, now);
    return listed && (since === undefined || now - since < windowMs);
  };
  /** Why a replica's series are missing: the component that is actually down, as far as can be seen from here. */
  const replicaProblem = async (w: Workload, pod: string): Promise<{ cause: string; fix: string }> => {
    const labels = prometheusLabels(w, pod);
    const entries = views.flatMap((v) =>
      v.entries.filter((e) => e.type === "sidecar" && e.labelSets.some((l) => sameLabels(l, labels))),
    );
    // Prometheus first: a sidecar whose Prometheus is down reports itself not ready, so the root is Prometheus.
    const prometheus = target(endpoints, w.name, "prometheus", pod);
    if (prometheus) {
      try {
        await probe.text(join(prometheus.url, "/-/ready"));
      } catch (error) {
        return {
          cause: `Prometheus ${w.name}/${pod} does not answer at ${prometheus.url}: ${reason(error)}`,
          fix: inspectHint(topology, endpoints, w.name, pod, "prometheus"),
        };
      }
    }
    if (w.mode === "receive") {
      return {
        cause: `Prometheus ${w.name}/${pod} runs, but none of its series written through receive is recent (see check receive)`,
        fix: `${inspectHint(topology, endpoints, w.name, pod, "prometheus")}; its log names failed remote-write sends`,
      };
    }
    const sidecarHint = inspectHint(topology, endpoints, w.name, pod, "thanos-sidecar");
    const broken = entries.find((e) => e.lastError);
    if (entries.length === 0 || (broken && entries.every((e) => e.lastError))) {
      return {
        cause:
          `the sidecar of ${w.name}/${pod} is down or unreachable from query in ${mgmt}` +
          (broken ? ` (query: ${shortGrpcError(broken.lastError ?? "")})` : " (query does not list it)"),
        fix: sidecarHint,
      };
    }
    return {
      cause: `Prometheus ${w.name}/${pod} runs and its sidecar is healthy, but it has no recent sample of \`up\`: its scrapes fail`,
      fix: `open ${prometheus ? `${prometheus.url}/targets` : `${w.name}'s Prometheus targets page`} to see why its scrapes fail`,
    };
  };
  const waiting: string[] = [];
  for (const w of topology.workloads) {
    const mine = raw.series.filter((s) => belongsTo(w, s));
    const collapsed = deduped.series.filter((s) => belongsTo(w, s));
    const present = new Set(mine.map((s) => s[REPLICA_LABEL]).filter(Boolean));
    const absent = w.replicaNames.filter((r) => !present.has(r));
    if (absent.length > 0 && absent.every((r) => starting(w, r))) {
      waiting.push(
        ...(absent.length === w.replicaNames.length ? [w.name] : absent.map((r) => `${w.name}/${r}`)),
      );
      if (mine.length === 0) continue;
    } else if (mine.length === 0 && collapsed.length === 0) {
      const why = await Promise.all(w.replicaNames.map((r) => replicaProblem(w, r)));
      problems.push({
        what: `no recent series from workload cluster ${w.name} ${describeLabels(w.labels)}`,
        cause: why.map((x) => x.cause).join("; "),
        fix: [...new Set(why.map((x) => x.fix))].join("; "),
      });
      continue;
    }
    const missing = absent.filter((r) => !starting(w, r));
    for (const r of missing) {
      const why = await replicaProblem(w, r);
      problems.push({
        what: `without dedup ${w.name} shows ${present.size} of ${w.replicaNames.length} replicas: ${r} missing`,
        ...why,
      });
    }
    if (collapsed.length !== 1 || collapsed.some((s) => REPLICA_LABEL in s)) {
      problems.push({
        what: `with dedup ${w.name} returns ${collapsed.length} series${collapsed.some((s) => REPLICA_LABEL in s) ? ` still labelled ${REPLICA_LABEL}` : ""}, expected 1`,
        cause: `query does not deduplicate on ${REPLICA_LABEL}: its --query.replica-label flags differ from the replica label Prometheus carries`,
        fix: `run query with --query.replica-label=${REPLICA_LABEL} (the component spec sets it; \`thanos-fleet up\` re-applies it)`,
      });
    }
  }
  const warnings = [...new Set([...deduped.warnings, ...raw.warnings])];
  if (problems.length > 0)
    return fail(QUERY, problems, warnings.length > 0 ? `warnings: ${warnings.join("; ")}` : undefined);
  if (waiting.length > 0) {
    return pending(
      QUERY,
      `${waiting.join(", ")}: Prometheus started moments ago, no sample yet`,
      new Date(now + windowMs),
    );
  }
  const replicas = topology.workloads.reduce((n, w) => n + w.replicaNames.length, 0);
  return pass(
    QUERY,
    `${topology.workloads.map((w) => w.name).join(", ")}: ${replicas} replica series collapse to ${topology.workloads.length} with dedup` +
      (warnings.length > 0 ? ` (warnings: ${warnings.join("; ")})` : ""),
  );
}
