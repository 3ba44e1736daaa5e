// Reads what doctor judges, and only reads: query's stores and flags, what deduplication does to the data, each
// component's metrics and flags, the bucket's blocks. Every request is a GET.
import { setTimeout as sleep } from "node:timers/promises";
import type { HttpClient } from "../net/http.ts";
import { join } from "../net/http.ts";
import { type S3Access, S3Client } from "../net/s3.ts";
import { metricValue, parseMetrics, type Sample } from "../probes/metrics.ts";
import { apiData, getText, instantQuery, readBucket, readFlags, readStores } from "../probes/thanos.ts";
import { type KubeReader, kubeComponents } from "./kube.ts";
import type {
  BucketView,
  Component,
  ComponentKind,
  DedupProbe,
  FrontendProbe,
  Observation,
  StoreSample,
} from "./types.ts";

/** Labels HA setups put on replicas: query should deduplicate on each it finds in the data. */
export const REPLICA_LABELS = [
  "prometheus_replica",
  "replica",
  "receive_replica",
  "rule_replica",
  "thanos_ruler_replica",
  "ruler_replica",
];

/** Metrics only one kind of component exposes, in the order they are tried. */
const KIND_MARKERS: [ComponentKind, RegExp][] = [
  ["compact", /^thanos_compact_/],
  ["store", /^thanos_bucket_store_/],
  ["sidecar", /^thanos_sidecar_/],
  ["receive", /^thanos_receive_/],
  ["rule", /^thanos_rule_/],
  ["query-frontend", /^(thanos_frontend_|cortex_frontend_|thanos_query_frontend_)/],
  ["query", /^(thanos_store_nodes_grpc_connections|thanos_query_)/],
];

export function kindOf(samples: Sample[]): ComponentKind {
  const names = new Set(samples.map((s) => s.name));
  const thanos = names.has("thanos_build_info");
  if (!thanos) return names.has("prometheus_build_info") ? "prometheus" : "unknown";
  for (const [kind, marker] of KIND_MARKERS) {
    for (const n of names) if (marker.test(n)) return kind;
  }
  return "unknown";
}

function versionOf(samples: Sample[], kind: ComponentKind): string | undefined {
  const name = kind === "prometheus" ? "prometheus_build_info" : "thanos_build_info";
  return samples.find((s) => s.name === name)?.labels.version;
}

export function messageOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

/** One component's metrics page, flags and clock. */
export async function readComponent(http: HttpClient, url: string): Promise<Component> {
  try {
    const sent = Date.now();
    const res = await http(join(url, "/metrics"), { headers: { "accept-encoding": "identity" } });
    const received = Date.now();
    if (res.status !== 200) {
      return { url, kind: "unknown", samples: [], error: `${join(url, "/metrics")} answered ${res.status}` };
    }
    const samples = parseMetrics(res.body);
    const kind = kindOf(samples);
    const date = Date.parse(res.headers.date ?? "");
    // The Date header has whole seconds: its second began at most 1 s before the answer was written.
    const clockSkewMs = Number.isNaN(date) ? undefined : date + 500 - (sent + received) / 2;
    const flags = await readFlags(http, url).catch(() => undefined);
    return {
      url,
      kind,
      samples,
      ...(flags ? { flags } : {}),
      ...(versionOf(samples, kind) ? { version: versionOf(samples, kind) } : {}),
      ...(clockSkewMs === undefined ? {} : { clockSkewMs }),
    };
  } catch (error) {
    return { url, kind: "unknown", samples: [], error: messageOf(error) };
  }
}

/**
 * The values of one label on `up`, which every scraping Prometheus has: a sidecar refuses a selector of external
 * labels alone, and a selector of every series would be heavy on a large installation.
 */
async function labelValues(http: HttpClient, query: string, label: string, dedup: boolean) {
  const expr = `count by (${label}) (up{${label}!=""})`;
  const data = await instantQuery(http, query, expr, { dedup: String(dedup) });
  const values = data.result.map((r) => r.metric[label]).filter((v): v is string => v !== undefined);
  return { expr, values: [...new Set(values)].sort() };
}

/** What deduplication does to each label: kept with it off, gone with it on, means query deduplicates on it. */
async function dedupProbes(http: HttpClient, query: string, labels: string[]): Promise<DedupProbe[]> {
  return Promise.all(
    labels.map(async (label) => {
      const raw = await labelValues(http, query, label, false);
      const dedup = await labelValues(http, query, label, true);
      return { label, expr: raw.expr, rawValues: raw.values, dedupValues: dedup.values };
    }),
  );
}

const HOUR = 3_600_000;
/** The frontend probe's range: the hour that began this long ago; a results cache of sane freshness keeps it. */
export const FRONTEND_PROBE_AGE_MS = 3 * HOUR;
const FRONTEND_PROBE_STEP_S = 60;
/** Seconds past a step boundary the probe's start is: an aligning frontend moves it back onto the boundary. */
const FRONTEND_PROBE_OFFSET_S = 7;

function cacheCounters(samples: Sample[]): { fetched: number; hits: number } | undefined {
  const range = { tripperware: "query_range" };
  const fetched = metricValue(samples, "cortex_cache_fetched_keys_total", range);
  if (fetched === undefined) return undefined;
  return { fetched, hits: metricValue(samples, "cortex_cache_hits_total", range) ?? 0 };
}

/**
 * Asks a query-frontend the same small range query twice (`vector(1)`, which touches no store) and reads its
 * results cache's counters around it: the only way to learn its split, alignment and cache settings over HTTP, as its
 * flags API answers with its downstream query's flags.
 */
export async function probeFrontend(http: HttpClient, c: Component, now: number): Promise<FrontendProbe> {
  const step = FRONTEND_PROBE_STEP_S;
  const startS = Math.floor((now - FRONTEND_PROBE_AGE_MS) / 1000 / step) * step + FRONTEND_PROBE_OFFSET_S;
  const q = new URLSearchParams({
    query: "vector(1)",
    start: String(startS),
    end: String(startS + HOUR / 1000),
    step: String(step),
  });
  const path = `/api/v1/query_range?${q}`;
  const url = join(c.url, path);
  try {
    let first: number | undefined;
    for (let i = 0; i < 2; i++) {
      const data = await apiData<{ result: { values: [number, string][] }[] }>(http, c.url, path);
      first = data.result[0]?.values[0]?.[0];
    }
    const before = cacheCounters(c.samples);
    const after = before
      ? cacheCounters(parseMetrics(await getText(http, join(c.url, "/metrics"))))
      : undefined;
    return {
      url,
      start: startS * 1000,
      ...(first === undefined ? {} : { firstTimestamp: Math.round(first * 1000) }),
      ...(before && after
        ? {
            cache: {
              fetchedBefore: before.fetched,
              fetchedAfter: after.fetched,
              hitsBefore: before.hits,
              hitsAfter: after.hits,
            },
          }
        : {}),
    };
  } catch (error) {
    return { url, start: startS * 1000, error: messageOf(error) };
  }
}

/** Adds the frontend probe to each query-frontend read over HTTP. */
async function withFrontendProbe(http: HttpClient, c: Component, now: number): Promise<Component> {
  if (c.kind !== "query-frontend" || c.error || c.source === "kube") return c;
  return { ...c, frontend: await probeFrontend(http, c, now) };
}

/**
 * Query's view of its endpoints, read every intervalMs until windowMs has passed since the first (given) read. A read
 * that fails ends the window early: what was read is judged, and doctor still runs.
 */
export async function sampleStores(
  http: HttpClient,
  query: string,
  first: StoreSample,
  windowMs: number,
  intervalMs: number,
): Promise<StoreSample[]> {
  const samples = [first];
  while (Date.now() + intervalMs <= first.at + windowMs) {
    await sleep(intervalMs);
    try {
      samples.push({ at: Date.now(), entries: await readStores(http, query) });
    } catch {
      break;
    }
  }
  return samples;
}

/** Parses an objstore.yml of type S3 into what the S3 client needs; throws naming the field that is wrong. */
export function s3AccessFrom(config: unknown, file: string): S3Access {
  const doc = (config ?? {}) as { type?: unknown; config?: Record<string, unknown> };
  if (String(doc.type ?? "").toUpperCase() !== "S3") {
    throw new Error(`${file}: type is ${JSON.stringify(doc.type)}; doctor reads S3 buckets only (type: S3)`);
  }
  const c = doc.config ?? {};
  for (const field of ["bucket", "endpoint", "access_key", "secret_key"]) {
    if (typeof c[field] !== "string" || c[field] === "") {
      throw new Error(`${file}: config.${field} is missing; set it as Thanos's objstore.yml does`);
    }
  }
  const scheme = c.insecure === true ? "http" : "https";
  return {
    url: `${scheme}://${c.endpoint as string}`,
    bucket: c.bucket as string,
    accessKey: c.access_key as string,
    secretKey: c.secret_key as string,
    ...(typeof c.region === "string" && c.region ? { region: c.region } : {}),
  };
}

async function readBucketView(http: HttpClient, access: S3Access): Promise<BucketView> {
  const name = `s3://${access.bucket} at ${access.url}`;
  try {
    const bucket = await readBucket(new S3Client(access, http));
    return { name, blocks: bucket.blocks };
  } catch (error) {
    return { name, blocks: [], error: messageOf(error) };
  }
}

export interface ObserveOptions {
  query: string;
  metrics: string[];
  bucket?: S3Access;
  /** For the bucket: the S3 endpoint may need another client (its own CA) than the components. */
  bucketHttp?: HttpClient;
  /** API servers whose Deployments and StatefulSets to read. */
  kube?: KubeReader[];
  /** How long query's endpoints are watched for flapping (read every storesIntervalMs); 0 reads them once. */
  storesWindowMs?: number;
  storesIntervalMs?: number;
}

/** Everything doctor judges; throws only when query itself cannot be read (doctor cannot run then). */
export async function observe(http: HttpClient, opts: ObserveOptions): Promise<Observation> {
  const now = Date.now();
  // Query first: without its view of the stores there is nothing to judge.
  await getText(http, join(opts.query, "/api/v1/status/buildinfo")).catch(async () => {
    await getText(http, join(opts.query, "/-/ready"));
  });
  const first: StoreSample = { at: Date.now(), entries: await readStores(http, opts.query) };
  const stores = first.entries;
  const sampling = sampleStores(
    http,
    opts.query,
    first,
    opts.storesWindowMs ?? 0,
    opts.storesIntervalMs ?? 1000,
  );
  const queryComponent = await withFrontendProbe(http, await readComponent(http, opts.query), now);
  const labels = new Set(REPLICA_LABELS);
  // Names a selector takes unquoted: a label name outside them (UTF-8 names) is left out of the probes.
  const plain = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
  for (const s of stores)
    for (const set of s.labelSets) for (const k of Object.keys(set)) if (plain.test(k)) labels.add(k);
  const [dedup, components, kube, bucket, storeSamples] = await Promise.all([
    dedupProbes(http, opts.query, [...labels].sort()),
    Promise.all(
      opts.metrics.map(async (url) => withFrontendProbe(http, await readComponent(http, url), now)),
    ),
    Promise.all((opts.kube ?? []).map(kubeComponents)),
    opts.bucket ? readBucketView(opts.bucketHttp ?? http, opts.bucket) : Promise.resolve(undefined),
    sampling,
  ]);
  return {
    now,
    query: { ...queryComponent, stores: storeSamples.at(-1)?.entries ?? stores, storeSamples },
    dedup,
    components: [...components, ...kube.flat()],
    ...(bucket ? { bucket } : {}),
  };
}
