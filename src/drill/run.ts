// `thanos-fleet drill`: breaks one thing at a time on a running fleet and measures what the fleet promises about
// it: the global view stays complete, warnings name the broken store, the right alert fires, the fleet recovers
// once the fault is lifted, and no block is lost.
import { setTimeout as sleep } from "node:timers/promises";
import { DEDUP_REPLICA_LABEL } from "../components/thanos/compact.ts";
import { receiveWorkloads } from "../components/thanos/receive.ts";
import { durationOr } from "../duration.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import type { HttpClient } from "../net/http.ts";
import { fleetClient } from "../net/https.ts";
import { s3HttpClient } from "../net/s3.ts";
import { metricValue, parseMetrics } from "../probes/metrics.ts";
import type { Topology } from "../topology/topology.ts";
import { GAPS } from "../verify/checks/gaps.ts";
import { allowedGapMs, mergeReplicas, type RawSeries, rawSamplesUrl, widestGap } from "../verify/gaps.ts";
import { type BlockMeta, Probe } from "../verify/probe.ts";
import { verifyFleet } from "../verify/verify.ts";
import type { Scenario } from "./scenarios.ts";

export interface Fault {
  /** What was broken, in words. */
  what: string;
  /** The pods that are down or unreachable: warnings may name these and no others. */
  brokenPods: { cluster: string; pod: string }[];
  /**
   * The pods the fault deleted (Kubernetes): their series as discovery found them end, and a pod made again gets new
   * ones, so the view's count and gaps leave them out.
   */
  removedPods?: { cluster: string; pod: string }[];
  /**
   * A fault that runs its own course (a rollout): settles when it is over, with what it did in words. The hold lasts
   * until then; a course that failed fails the scenario when the fault is lifted.
   */
  course?: Promise<string>;
  /** Ends the fault and waits until whatever was broken runs again. */
  lift(): Promise<void>;
  /** What the fault promised besides the view, checked once it is lifted (a rotation: each server presents its new certificate). */
  check?(): Promise<{ ok: boolean; detail: string }>;
}

export interface Faults {
  /** Refuses to start when a fault could not be survived for reasons outside the drill (nothing restarts). */
  check(): Promise<void>;
  inject(s: Scenario): Promise<Fault>;
}

export interface ScenarioResult {
  id: string;
  title: string;
  broken?: string;
  ok: boolean;
  view?: {
    ok: boolean;
    promised: "complete" | "complete after recovery";
    seriesBefore: number;
    seriesDuringMin: number;
    seriesAfter: number;
    maxGapSeconds: number;
    allowedGapSeconds: number;
  };
  warnings?: { ok: boolean; seen: string[] };
  alert?: { name: string; ok: boolean; firedAfterSeconds?: number };
  recovery?: { ok: boolean; seconds?: number; failing?: string[] };
  uploads?: { ok: boolean; detail: string };
  /**
   * Remote writes to receive while the fault lasted: samples Prometheus gave up on and 5xx at the routers (failed
   * writes); samples Prometheus sent again (a write that failed once, then succeeded); copies the routers could not
   * store on one ingester although the write's quorum held (`thanos_receive_replications_total{result="error"}`).
   */
  writes?: {
    ok: boolean;
    failedSamples: number;
    failedRequests: number;
    retriedSamples: number;
    replicationErrors: number;
  };
  /** The global view queried without pause, each on a new connection: how many, how many failed, the longest wait. */
  queries?: { ok: boolean; sent: number; failed: number; longestGapSeconds: number; failures: string[] };
  /** What the fault's own check found once lifted. */
  rotation?: { ok: boolean; detail: string };
  blocks?: { ok: boolean; before: number; after: number; missing: string[] };
  error?: string;
}

export interface DrillReport {
  ok: boolean;
  startedAt: string;
  scenarios: ScenarioResult[];
}

export interface DrillOptions {
  signal: AbortSignal;
  /** Each scenario's result as soon as it is known. */
  onResult?: (r: ScenarioResult) => void;
  onProgress?: (line: string) => void;
  /** Longest wait for an alert to fire; the rule's `for`, evaluation and freshness windows fit in it. */
  alertTimeoutMs?: number;
  recoveryTimeoutMs?: number;
}

interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** GET through the fleet's client (its client certificate with `tls.http`); ends early when the drill is stopped. */
async function getJson<T>(http: HttpClient, url: string, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const res = await Promise.race([http(url, { timeoutMs: 15_000 }), aborted]);
    if (res.status < 200 || res.status > 299)
      throw new Error(`GET ${url}: ${res.status} ${res.body.slice(0, 200)}`);
    return JSON.parse(res.body) as T;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Whether a series (by its labels) belongs to a pod the fault removed. */
type Gone = (labels: Record<string, string>) => boolean;

/**
 * The series of the pods a fault removes, as Kubernetes discovery finds them (labels `cluster` and `pod`): discovery
 * drops a deleted pod's targets, and a pod made again gets a new address, so its series end and new ones begin.
 * They describe what was removed; the peer jobs' `up == 0` at fixed addresses is what reports it, and stays in.
 */
export function seriesOfPods(pods: { cluster: string; pod: string }[]): Gone {
  return (labels) => pods.some((p) => labels.cluster === p.cluster && labels.pod === p.pod);
}

interface WriteCounters {
  samples: number;
  requests: number;
  retried: number;
  replicationErrors: number;
}

export class Fleet {
  readonly scrapeMs: number;
  readonly blockMs: number;
  readonly http: HttpClient;
  constructor(
    readonly topology: Topology,
    readonly endpoints: FleetEndpoints,
    readonly signal: AbortSignal,
  ) {
    this.scrapeMs = Math.max(
      ...topology.workloads.map((w) => durationOr(w.prometheus.scrapeInterval, 15_000)),
      1000,
    );
    this.blockMs = durationOr(endpoints.blockDuration, 2 * 3600_000);
    this.http = fleetClient(15_000, endpoints.httpTls);
  }

  async query(q: string, time?: number): Promise<{ result: Sample[]; warnings: string[] }> {
    const params = new URLSearchParams({ query: q, dedup: "true", partial_response: "true" });
    if (time !== undefined) params.set("time", String(time / 1000));
    const body = await getJson<{ status: string; data: { result: Sample[] }; warnings?: string[] }>(
      this.http,
      `${this.endpoints.queryFrontend}/api/v1/query?${params}`,
      this.signal,
    );
    return { result: body.data.result, warnings: body.warnings ?? [] };
  }

  /**
   * The labels of the deduplicated series with a sample in the last two scrape intervals. Taken over the window,
   * not from the instant value: after one replica's gap, Thanos's penalty deduplication may evaluate an instant on
   * an older sample for up to about a minute while newer ones are in the view (thanos-io/thanos#981), which is not a
   * missing series.
   */
  async freshSeries(): Promise<{ series: Record<string, string>[]; warnings: string[] }> {
    const seconds = Math.round((2 * this.scrapeMs) / 1000) + 5;
    const { result, warnings } = await this.query(`count_over_time(up[${seconds}s])`);
    return { series: result.map((s) => s.metric), warnings };
  }

  /**
   * Queries the global view (freshSeries' query) one query after another until stopped, each through a new client
   * and so a new TLS handshake with query-frontend. A query fails when it errs, answers with a warning (a store out
   * of reach) or with fewer series than the first answer. The longest gap is the longest time between two answers
   * that did not fail.
   */
  queryWithoutPause(signal: AbortSignal): { stop: () => Promise<NonNullable<ScenarioResult["queries"]>> } {
    const seconds = Math.round((2 * this.scrapeMs) / 1000) + 5;
    const params = new URLSearchParams({
      query: `count_over_time(up[${seconds}s])`,
      dedup: "true",
      partial_response: "true",
    });
    const url = `${this.endpoints.queryFrontend}/api/v1/query?${params}`;
    let stopped = false;
    let sent = 0;
    let baseline: number | undefined;
    let lastOk = Date.now();
    let longest = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stopped && !signal.aborted) {
        sent++;
        try {
          // A new connection each time (a fresh handshake sees the certificate of the moment), closed after its
          // answer: thousands of idle ones would fill the load balancer's connection limit.
          const client = fleetClient(15_000, this.endpoints.httpTls, false);
          const body = await getJson<{ data: { result: Sample[] }; warnings?: string[] }>(
            client,
            url,
            signal,
          );
          const n = body.data.result.length;
          if ((body.warnings ?? []).length > 0) failures.push(`warnings: ${body.warnings?.join("; ")}`);
          else if (baseline !== undefined && n < baseline) failures.push(`${n} series, ${baseline} before`);
          else {
            baseline ??= n;
            const now = Date.now();
            longest = Math.max(longest, now - lastOk);
            lastOk = now;
          }
        } catch (error) {
          if (signal.aborted) return;
          failures.push((error as Error).message);
        }
        // Two a second: under query-frontend's rate limit in every profile (4 a second in the smallest), which
        // answers a faster stream with 429 once its burst is spent, and often enough to meet every handshake's turn.
        await sleep(500, undefined, { signal }).catch(() => {});
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return {
          ok: failures.length === 0 && sent > 0,
          sent,
          failed: failures.length,
          longestGapSeconds: Math.round(longest / 100) / 10,
          failures: failures.slice(0, 5),
        };
      },
    };
  }

  /**
   * The widest gap in [from, to] between samples of one series, taken from every replica together (what
   * deduplication draws from), among series that had a sample before `since` and are not of the `gone` pods.
   * Thanos's deduplication itself may show a gap of up to two scrape intervals plus the replicas' offset where it
   * switches replica.
   */
  async maxGap(from: number, to: number, since: number, gone: Gone): Promise<number> {
    const body = await getJson<{ data: { result: RawSeries[] } }>(
      this.http,
      rawSamplesUrl(this.endpoints.queryFrontend, "up", from, to),
      this.signal,
    );
    return widestGap(mergeReplicas(body.data.result, gone), since, to);
  }

  async firing(name: string, labels: Record<string, string>): Promise<boolean> {
    const rulers = this.endpoints.targets.filter((t) => t.component === "rule");
    for (const r of rulers) {
      try {
        type Alert = { labels: Record<string, string>; state: string };
        // Prometheus names the list `alerts`; Thanos's ruler `Alerts`.
        const body = await getJson<{ data: { alerts?: Alert[]; Alerts?: Alert[] } }>(
          this.http,
          `${r.url}/api/v1/alerts`,
          this.signal,
        );
        const hit = (body.data.alerts ?? body.data.Alerts ?? []).some(
          (a) =>
            a.state === "firing" &&
            a.labels.alertname === name &&
            Object.entries(labels).every(([k, v]) => a.labels[k] === v),
        );
        if (hit) return true;
      } catch {
        // A ruler that is down (a drill's own fault) cannot answer; the others can.
      }
    }
    return false;
  }

  /**
   * Remote writes that failed so far: samples the receive-mode Prometheus replicas dropped
   * (prometheus_remote_storage_samples_failed_total) and requests the routers answered with 5xx (a write quorum not
   * met). Counters, so a fault's are the difference across it; a process that restarted counts from zero again.
   */
  async failedWrites(): Promise<WriteCounters> {
    const read = async (url: string) => parseMetrics((await this.http(`${url}/metrics`)).body);
    const writers = new Set(receiveWorkloads(this.topology).map((w) => w.name));
    const out: WriteCounters = { samples: 0, requests: 0, retried: 0, replicationErrors: 0 };
    for (const t of this.endpoints.targets) {
      if (t.component === "prometheus" && writers.has(t.cluster)) {
        const page = await read(t.url);
        out.samples += metricValue(page, "prometheus_remote_storage_samples_failed_total") ?? 0;
        out.retried += metricValue(page, "prometheus_remote_storage_samples_retried_total") ?? 0;
      }
      if (t.component === "receive-router") {
        const page = await read(t.url);
        out.requests += page
          .filter((s) => s.name === "http_requests_total" && s.labels.handler === "receive")
          .filter((s) => (s.labels.code ?? "").startsWith("5"))
          .reduce((n, s) => n + s.value, 0);
        out.replicationErrors += page
          .filter((s) => s.name === "thanos_receive_replications_total" && s.labels.result === "error")
          .reduce((n, s) => n + s.value, 0);
      }
    }
    return out;
  }

  async blocks(): Promise<BlockMeta[]> {
    const probe = new Probe(
      this.topology,
      this.endpoints,
      this.http,
      () => new Date(),
      0,
      s3HttpClient(this.endpoints.objectStore, 10_000),
    );
    return (await probe.bucket()).blocks;
  }

  /** The names a warning about these pods may carry: their gRPC addresses and pod names. */
  storeNames(pods: { cluster: string; pod: string }[]): string[] {
    const out = new Set<string>();
    for (const p of pods) {
      out.add(p.pod);
      for (const t of this.endpoints.targets.filter((x) => x.cluster === p.cluster && x.pod === p.pod)) {
        if (t.grpc) out.add(t.grpc);
      }
    }
    return [...out];
  }
}

/**
 * Blocks before that are neither still there nor compacted into a block after: one that lists them among its sources,
 * or covers their time with their labels, or with their labels but the replica label (the compactor's offline
 * deduplication merges an HA pair's blocks into one stream without it).
 */
export function lostBlocks(before: BlockMeta[], after: BlockMeta[]): BlockMeta[] {
  const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
  const withoutReplica = (l: Record<string, string>) => {
    const { [DEDUP_REPLICA_LABEL]: _, ...rest } = l;
    return key(rest);
  };
  return before.filter(
    (b) =>
      !after.some((a) => a.ulid === b.ulid || a.sources?.includes(b.ulid)) &&
      !after.some(
        (a) =>
          (key(a.labels) === key(b.labels) || key(a.labels) === withoutReplica(b.labels)) &&
          a.minTime <= b.minTime &&
          a.maxTime >= b.maxTime,
      ),
  );
}

async function runScenario(
  fleet: Fleet,
  faults: Faults,
  s: Scenario,
  opts: DrillOptions,
): Promise<ScenarioResult> {
  const progress = opts.onProgress ?? (() => {});
  const result: ScenarioResult = { id: s.id, title: s.title, ok: false };
  const seriesBefore = (await fleet.freshSeries()).series;
  const blocksBefore = await fleet.blocks();
  const writesBefore = s.noFailedWrites ? await fleet.failedWrites() : undefined;
  const start = Date.now();
  const queries = s.continuousQueries ? fleet.queryWithoutPause(opts.signal) : undefined;
  const fault = await faults.inject(s).catch(async (error) => {
    await queries?.stop();
    throw error;
  });
  let courseOver = fault.course === undefined;
  let courseSaid: string | undefined;
  fault.course?.then(
    (said) => {
      courseSaid = said;
      courseOver = true;
    },
    () => {
      courseOver = true;
    },
  );
  const gone = seriesOfPods(fault.removedPods ?? []);
  const count = (series: Record<string, string>[]) => series.filter((labels) => !gone(labels)).length;
  const before = count(seriesBefore);
  result.broken = fault.what;
  progress(`${s.id}: ${fault.what}`);
  // With the bucket gone, the store gateway is the StoreAPI that fails: its warnings are the right ones.
  const bucketReaders = s.victims.some((v) => v.component === "object-store")
    ? fleet.endpoints.targets.filter((t) => t.component === "store")
    : [];
  const names = [
    ...fleet.storeNames([...fault.brokenPods, ...bucketReaders]),
    new URL(fleet.endpoints.objectStore.url).host,
  ];
  let duringMin = Number.POSITIVE_INFINITY;
  const warnings = new Set<string>();
  let firedAt: number | undefined;
  const holdMs =
    "ms" in s.hold
      ? Math.min(s.hold.ms, (s.hold.atMostBlockDurations ?? Number.POSITIVE_INFINITY) * fleet.blockMs)
      : s.hold.blockDurations * fleet.blockMs;
  const alertDeadline = start + Math.max(holdMs, opts.alertTimeoutMs ?? 180_000);
  let lifted = false;
  try {
    for (;;) {
      await sleep(Math.min(5000, fleet.scrapeMs), undefined, { signal: opts.signal });
      const now = Date.now();
      // Query notices a dead endpoint within its 5 s health check: count after that.
      if (now - start > 6000) {
        const during = await fleet
          .freshSeries()
          .catch(() => ({ series: [], warnings: ["query-frontend did not answer"] }));
        duringMin = Math.min(duringMin, count(during.series));
        for (const w of during.warnings) warnings.add(w);
      }
      if (s.alert && firedAt === undefined && (await fleet.firing(s.alert.name, s.alert.labels))) {
        firedAt = now;
        progress(`${s.id}: ${s.alert.name} fired after ${Math.round((now - start) / 1000)} s`);
      }
      const held = now - start >= holdMs && duringMin !== Number.POSITIVE_INFINITY && courseOver;
      if (held && (!s.alert || firedAt !== undefined || now > alertDeadline)) break;
    }
  } finally {
    const liftedAt = Date.now();
    await fault.lift();
    if (fault.course) {
      // A course cut short (Ctrl-C) or failed: its error, after the lift undid what it could.
      await fault.course;
      result.broken = `${fault.what}: ${courseSaid}`;
      progress(`${s.id}: ${courseSaid}`);
    }
    lifted = true;
    progress(`${s.id}: fault lifted; back after ${Math.round((Date.now() - liftedAt) / 1000)} s`);
  }
  const liftedAt = Date.now();
  if (fault.check) result.rotation = await fault.check();
  const recovery = await recover(fleet, opts);
  if (queries) result.queries = await queries.stop();
  result.recovery = recovery.ok
    ? { ok: true, seconds: Math.round((Date.now() - liftedAt) / 1000) }
    : { ok: false, failing: recovery.failing };
  if (s.uploadsCatchUp) result.uploads = await uploadsCaughtUp(fleet, start, opts.signal);
  if (writesBefore) {
    const now = await fleet.failedWrites();
    const failedSamples = Math.max(0, now.samples - writesBefore.samples);
    const failedRequests = Math.max(0, now.requests - writesBefore.requests);
    result.writes = {
      ok: failedSamples === 0 && failedRequests === 0,
      failedSamples,
      failedRequests,
      retriedSamples: Math.max(0, now.retried - writesBefore.retried),
      replicationErrors: Math.max(0, now.replicationErrors - writesBefore.replicationErrors),
    };
  }

  // The range across the outage, once the samples of its end have arrived.
  const end = Math.max(Date.now(), liftedAt + 2 * fleet.scrapeMs);
  await sleep(Math.max(0, end - Date.now()), undefined, { signal: opts.signal });
  const gap = await fleet.maxGap(start - 60_000, end, start, gone);
  const after = count((await fleet.freshSeries()).series);
  const allowed = allowedGapMs(fleet.scrapeMs);
  const duringOk = !s.completeDuring || duringMin >= before;
  result.view = {
    ok: duringOk && gap <= allowed && after >= before,
    promised: s.completeDuring ? "complete" : "complete after recovery",
    seriesBefore: before,
    seriesDuringMin: duringMin === Number.POSITIVE_INFINITY ? before : duringMin,
    seriesAfter: after,
    maxGapSeconds: Math.round(gap / 100) / 10,
    allowedGapSeconds: allowed / 1000,
  };
  const seen = [...warnings];
  result.warnings = {
    ok: seen.every((w) => names.some((n) => w.includes(n))),
    seen,
  };
  if (s.alert) {
    result.alert = {
      name: s.alert.name,
      ok: firedAt !== undefined,
      ...(firedAt !== undefined ? { firedAfterSeconds: Math.round((firedAt - start) / 1000) } : {}),
    };
  }
  const blocksAfter = await fleet.blocks();
  const lost = lostBlocks(blocksBefore, blocksAfter);
  result.blocks = {
    ok: lost.length === 0,
    before: blocksBefore.length,
    after: blocksAfter.length,
    missing: lost.map((b) => b.ulid),
  };
  result.ok =
    lifted &&
    result.view.ok &&
    result.warnings.ok &&
    (result.alert?.ok ?? true) &&
    result.recovery.ok &&
    (result.uploads?.ok ?? true) &&
    (result.writes?.ok ?? true) &&
    (result.queries?.ok ?? true) &&
    (result.rotation?.ok ?? true) &&
    result.blocks.ok;
  return result;
}

/**
 * Verify until nothing fails (pending is fine: blocks may still be on their way). The `gaps` check is left out: a
 * hole the fault left is history the fleet cannot repair, and the drill measures it itself (`view`).
 */
async function recover(fleet: Fleet, opts: DrillOptions): Promise<{ ok: boolean; failing: string[] }> {
  const deadline = Date.now() + (opts.recoveryTimeoutMs ?? 240_000);
  let failing: string[] = [];
  for (;;) {
    const report = await verifyFleet(fleet.topology, fleet.endpoints, { skip: [GAPS.id] });
    failing = report.checks.filter((c) => c.status === "fail").map((c) => `${c.id}: ${c.detail}`);
    if (failing.length === 0) return { ok: true, failing };
    if (Date.now() > deadline) return { ok: false, failing };
    await sleep(2000, undefined, { signal: opts.signal });
  }
}

/**
 * Each sidecar has shipped a block that reaches past the fault's start: what it cut meanwhile was not dropped. A
 * replica's block merged by the compactor's deduplication stays listed under its own labels for the compactor's
 * delete delay (48 h), far longer than this wait.
 */
async function uploadsCaughtUp(
  fleet: Fleet,
  start: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  const replicas = fleet.topology.workloads.flatMap((w) =>
    w.replicaNames.map((r) => ({ ...w.labels, prometheus_replica: r })),
  );
  const deadline = Date.now() + 3 * fleet.blockMs + 120_000;
  for (;;) {
    const blocks = await fleet.blocks().catch(() => []);
    const behind = replicas.filter(
      (labels) =>
        !blocks.some((b) => b.maxTime > start && Object.entries(labels).every(([k, v]) => b.labels[k] === v)),
    );
    if (behind.length === 0)
      return { ok: true, detail: `every sidecar shipped a block reaching past the outage's start` };
    if (Date.now() > deadline) {
      return {
        ok: false,
        detail: `no block past the outage's start from ${behind.map((l) => JSON.stringify(l)).join(", ")}`,
      };
    }
    await sleep(5000, undefined, { signal });
  }
}

export async function runDrill(
  topology: Topology,
  endpoints: FleetEndpoints,
  faults: Faults,
  chosen: Scenario[],
  opts: DrillOptions,
): Promise<DrillReport> {
  await faults.check();
  const fleet = new Fleet(topology, endpoints, opts.signal);
  const report: DrillReport = { ok: true, startedAt: new Date().toISOString(), scenarios: [] };
  for (const s of chosen) {
    let result: ScenarioResult;
    try {
      result = await runScenario(fleet, faults, s, opts);
    } catch (error) {
      if (opts.signal.aborted) throw error;
      result = { id: s.id, title: s.title, ok: false, error: (error as Error).message };
    }
    report.scenarios.push(result);
    report.ok &&= result.ok;
    opts.onResult?.(result);
  }
  return report;
}
