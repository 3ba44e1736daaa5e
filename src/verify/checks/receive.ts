// The `receive` check, for fleets with receive-mode clusters: each such cluster's replicas arrive through the routers,
// every ingester of the hashring is ready, no write failed its quorum, and the ingesters ship blocks to the bucket.

import { setTimeout as sleep } from "node:timers/promises";
import {
  ingesterPodNames,
  RECEIVE_WORKLOAD,
  receiveWorkloads,
  routerPodNames,
} from "../../components/thanos/receive.ts";
import { durationOr, formatDuration } from "../../duration.ts";
import { join } from "../../net/http.ts";
import { metricValue, type Sample } from "../../probes/metrics.ts";
import { RECEIVE_REPLICA_LABEL, TENANT_LABEL } from "../../topology/semantics.ts";
import type { Workload } from "../../topology/topology.ts";
import { inspectHint, target } from "../expect.ts";
import { type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, pending, plural, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";
import { readStores } from "./stores.ts";
import { blockDurationMs, clock, firstBlockDue } from "./timing.ts";

export const RECEIVE: CheckInfo = {
  id: "receive",
  title: "receive takes every receive-mode cluster's writes",
};

const REPLICA_LABEL = "prometheus_replica";

/** Samples count as recent for three scrape intervals, at least a minute (as the query check counts them). */
function freshSeconds(w: Workload): number {
  return Math.max(60, 3 * Math.round(durationOr(w.prometheus.scrapeInterval, 15_000) / 1000));
}

/** Each Prometheus replica's copies of `up` written recently, per ingester: `group by` keeps one series per pair. */
export function arrivalQuery(w: Workload): string {
  return (
    `group by (${REPLICA_LABEL}, ${RECEIVE_REPLICA_LABEL}) ` +
    `(timestamp(up{${TENANT_LABEL}=${JSON.stringify(w.name)}}) > time() - ${freshSeconds(w)})`
  );
}

async function arrivals(probe: Probe, w: Workload): Promise<Record<string, string>[]> {
  const params = new URLSearchParams({ query: arrivalQuery(w), dedup: "false", partial_response: "true" });
  const url = join(probe.endpoints.queryFrontend, `/api/v1/query?${params}`);
  const body = await probe.json<{
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string> }[] };
  }>(url);
  if (body.status !== "success" || !body.data)
    throw new Error(`${url} answered ${body.status}: ${body.error ?? "no data"}`);
  return body.data.result.map((r) => r.metric);
}

async function readMetrics(probe: Probe, url: string, t: Parameters<Probe["metrics"]>[0]) {
  try {
    return { samples: await probe.metrics(t) };
  } catch (error) {
    return { error, url };
  }
}

function sum(samples: Sample[], name: string, match: (labels: Record<string, string>) => boolean): number {
  return samples.filter((s) => s.name === name && match(s.labels)).reduce((n, s) => n + s.value, 0);
}

/** Prometheus sends a batch at least every 5 s and retries a failed one within 5 s: two rounds of sends. */
const WRITE_WINDOW_MS = 10_000;

/** A router's remote writes since it started: all, those answered 5xx, and the copies an ingester did not store. */
function routerWrites(samples: Sample[]): { writes: number; failed: number; replicationErrors: number } {
  const isReceive = (l: Record<string, string>) => l.handler === "receive";
  return {
    writes: sum(samples, "http_requests_total", isReceive),
    failed: sum(samples, "http_requests_total", (l) => isReceive(l) && /^5/.test(l.code ?? "")),
    replicationErrors: metricValue(samples, "thanos_receive_replications_total", { result: "error" }) ?? 0,
  };
}

export async function checkReceive(probe: Probe): Promise<CheckResult | undefined> {
  const { topology, endpoints } = probe;
  const writers = receiveWorkloads(topology);
  if (writers.length === 0) return undefined;
  const mgmt = topology.observer.name;
  const { replicationFactor, ingesters: ingesterCount } = topology.observer.receive;
  const problems: CheckProblem[] = [];
  const waiting: string[] = [];
  let dueBy: number | undefined;
  const now = probe.now().getTime();

  // Every ingester of the hashring answers ready.
  const ingesters = ingesterPodNames(topology);
  const ingesterMetrics = new Map<string, Sample[]>();
  const notReady: string[] = [];
  await Promise.all(
    ingesters.map(async (pod) => {
      const hint = inspectHint(topology, endpoints, mgmt, pod, RECEIVE_WORKLOAD.ingester);
      const t = target(endpoints, mgmt, "receive-ingester", pod);
      if (!t) {
        notReady.push(pod);
        problems.push({
          what: `the runtime reports no ingester ${pod}`,
          cause: "the ingester is not running",
          fix: "bring the fleet up with `thanos-fleet up`",
        });
        return;
      }
      try {
        await probe.text(join(t.url, "/-/ready"));
        const m = await readMetrics(probe, t.url, t);
        if (m.samples) ingesterMetrics.set(pod, m.samples);
      } catch (error) {
        notReady.push(pod);
        const why = await unavailable(probe, t.url, error, `ingester ${pod}`);
        problems.push({
          what: `ingester ${mgmt}/${pod} is not ready at ${t.url}: ${reason(error)}`,
          cause: `${why.cause}: its share of every write goes to the other ingesters, and one more lost ingester stops writes at replication factor ${replicationFactor}`,
          fix: why.fix ?? hint,
        });
      }
    }),
  );

  // The routers: each knows the whole hashring; no write failed its quorum.
  let failedWrites = 0;
  let replicationErrors = 0;
  let writes = 0;
  const answered: Parameters<Probe["metrics"]>[0][] = [];
  await Promise.all(
    routerPodNames(topology).map(async (pod) => {
      const hint = inspectHint(topology, endpoints, mgmt, pod, RECEIVE_WORKLOAD.router);
      const t = target(endpoints, mgmt, "receive-router", pod);
      if (!t) {
        problems.push({
          what: `the runtime reports no router ${pod}`,
          cause: "the router is not running",
          fix: "bring the fleet up with `thanos-fleet up`",
        });
        return;
      }
      const m = await readMetrics(probe, t.url, t);
      if (!m.samples) {
        const why = await unavailable(probe, t.url, m.error, `router ${pod}`);
        problems.push({
          what: `router ${mgmt}/${pod} unreachable at ${t.url}: ${reason(m.error)}`,
          cause: why.cause,
          fix: why.fix ?? hint,
        });
        return;
      }
      const nodes = metricValue(m.samples, "thanos_receive_hashring_nodes") ?? 0;
      if (nodes !== ingesterCount) {
        problems.push({
          what: `router ${pod} has ${plural(nodes, "ingester")} in its hashring, fleet.yaml ${ingesterCount}`,
          cause: "its hashring file is not the one fleet.yaml gives (or it failed to read it)",
          fix: `re-apply the configuration with \`thanos-fleet up\`; ${hint}`,
        });
      }
      const counted = routerWrites(m.samples);
      writes += counted.writes;
      failedWrites += counted.failed;
      replicationErrors += counted.replicationErrors;
      answered.push(t);
    }),
  );
  // The counters hold every failure since the routers started, those of a start before the ingesters were ready
  // included: on a live fleet, a failure counts only if writes fail still, over one more round of Prometheus's sends.
  let failedNow = failedWrites;
  if (failedWrites > 0 && probe.live) {
    await sleep(WRITE_WINDOW_MS);
    const again = await Promise.all(answered.map((t) => probe.metricsNow(t).catch(() => undefined)));
    const failedLater = again.reduce((n, samples) => n + (samples ? routerWrites(samples).failed : 0), 0);
    failedNow = Math.max(0, failedLater - failedWrites);
  }
  if (failedNow > 0) {
    problems.push({
      what: probe.live
        ? `${plural(failedNow, "remote write")} failed at the routers (HTTP 5xx) in the last ${formatDuration(WRITE_WINDOW_MS)} (${failedWrites} of ${writes} since they started)`
        : `${plural(failedWrites, "remote write")} of ${writes} failed at the routers (HTTP 5xx)`,
      cause: `fewer than a quorum (${Math.floor(replicationFactor / 2) + 1} of ${replicationFactor}) of the ingesters a series hashes to took it: ingesters down or unreachable from the routers`,
      fix: "bring the ingesters back (`thanos-fleet up`); Prometheus retries what failed from its WAL",
    });
  }
  if (replicationErrors > 0 && notReady.length > 0) {
    problems.push({
      what: `${plural(replicationErrors, "replication")} to an ingester failed`,
      cause: `the routers cannot reach ${notReady.join(", ")}`,
      fix: "bring the ingesters back (`thanos-fleet up`)",
    });
  }

  // Each receive-mode cluster's replicas arrive, each on as many ingesters as the replication factor asks.
  for (const w of writers) {
    let series: Record<string, string>[];
    try {
      series = await arrivals(probe, w);
    } catch (error) {
      problems.push({
        what: `query-frontend did not answer for ${w.name}'s received series: ${reason(error)}`,
        cause: "query-frontend or query is down (see check query)",
        fix: `check thanos-query-frontend and thanos-query in ${mgmt} with \`thanos-fleet status\``,
      });
      continue;
    }
    for (const pod of w.replicaNames) {
      const copies = new Set(
        series.filter((s) => s[REPLICA_LABEL] === pod).map((s) => s[RECEIVE_REPLICA_LABEL]),
      );
      if (copies.size === 0) {
        problems.push({
          what: `no recent series from ${w.name}/${pod} in receive (tenant ${w.name})`,
          cause: `its remote write does not reach the routers at ${mgmt}'s remote-write NodePort, or is refused (TLS, tenant header); or the Prometheus replica is down`,
          fix: `${inspectHint(topology, endpoints, w.name, pod, "prometheus")}; its log names the failed sends (component=remote)`,
        });
      } else if (copies.size < Math.min(replicationFactor, ingesterCount - notReady.length)) {
        problems.push({
          what: `${w.name}/${pod}'s series are on ${plural(copies.size, "ingester")}, replication factor ${replicationFactor}`,
          cause: "the routers do not replicate as fleet.yaml asks: they run with another replication factor",
          fix: "re-apply the configuration with `thanos-fleet up`",
        });
      }
    }
  }

  // The ingesters ship each tenant's blocks.
  const blockMs = await blockDurationMs(probe);
  const { views } = await readStores(probe);
  let shipped = 0;
  for (const pod of ingesters) {
    const samples = ingesterMetrics.get(pod);
    if (!samples) continue;
    for (const w of writers) {
      const uploads = metricValue(samples, "thanos_shipper_uploads_total", { tenant: w.name }) ?? 0;
      const failures = metricValue(samples, "thanos_shipper_upload_failures_total", { tenant: w.name }) ?? 0;
      shipped += uploads;
      if (failures > 0) {
        problems.push({
          what: `ingester ${pod} failed ${plural(failures, "upload")} of ${w.name}'s blocks (${uploads} succeeded)`,
          cause: "the bucket is unreachable from the ingester or refuses its key",
          fix: inspectHint(topology, endpoints, mgmt, pod, RECEIVE_WORKLOAD.ingester),
        });
        continue;
      }
      if (uploads > 0) continue;
      const times = views
        .flatMap((v) => v.entries)
        .filter(
          (e) =>
            e.type === "receive" &&
            e.labelSets.some((l) => l[RECEIVE_REPLICA_LABEL] === pod && l[TENANT_LABEL] === w.name),
        )
        .map((e) => e.minTime)
        .filter((t) => t > 0 && t <= now);
      // The shipper counts from zero again when the ingester restarts (a drill, an upgrade): its first block since
      // is due a block after it started, whatever data its TSDB already held.
      const startedS = metricValue(samples, "process_start_time_seconds");
      const oldest = times.length > 0 ? Math.min(...times) : undefined;
      const since =
        oldest === undefined || startedS === undefined ? oldest : Math.max(oldest, startedS * 1000);
      const due = since === undefined ? undefined : firstBlockDue(since, blockMs);
      if (due === undefined || now < due) {
        waiting.push(`${pod}/${w.name}`);
        if (due !== undefined) dueBy = Math.max(dueBy ?? 0, due);
        continue;
      }
      problems.push({
        what: `ingester ${pod} has shipped no block of ${w.name} after ${formatDuration(now - (since ?? now))} of data`,
        cause: "the ingester does not cut or upload blocks: its bucket configuration, or its TSDB",
        fix: inspectHint(topology, endpoints, mgmt, pod, RECEIVE_WORKLOAD.ingester),
      });
    }
  }

  if (problems.length > 0) return fail(RECEIVE, problems);
  const summary =
    `${writers.map((w) => w.name).join(", ")}: every replica on ${replicationFactor} of ${ingesterCount} ready ingesters; ` +
    (failedWrites > 0
      ? `${writes} writes, none failed in the last ${formatDuration(WRITE_WINDOW_MS)} (${failedWrites} since the routers started)`
      : `${writes} writes, none failed`) +
    (replicationErrors > 0
      ? ` (${plural(replicationErrors, "replication")} to an ingester failed within quorum since the routers started)`
      : "");
  if (waiting.length > 0) {
    return pending(
      RECEIVE,
      `${summary}; first blocks due${dueBy ? ` by ${clock(dueBy)}` : ""} (${formatDuration(blockMs)} blocks): ${waiting.join(", ")}`,
      dueBy ? new Date(dueBy) : undefined,
    );
  }
  return pass(RECEIVE, `${summary}; ${plural(shipped, "block")} shipped by the ingesters`);
}
