// Reads what doctor judges, and only reads: query's stores and flags, what deduplication does to the data, each
// component's metrics and flags, the bucket's blocks. Every request is a GET.
import type { HttpClient } from "../net/http.ts";
import { join } from "../net/http.ts";
import { type S3Access, S3Client } from "../net/s3.ts";
import { parseMetrics, type Sample } from "../probes/metrics.ts";
import { getText, instantQuery, readBucket, readFlags, readStores } from "../probes/thanos.ts";
import { type KubeReader, kubeComponents } from "./kube.ts";
import type { BucketView, Component, ComponentKind, DedupProbe, Observation } from "./types.ts";

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
}

/** Everything doctor judges; throws only when query itself cannot be read (doctor cannot run then). */
export async function observe(http: HttpClient, opts: ObserveOptions): Promise<Observation> {
  const now = Date.now();
  // Query first: without its view of the stores there is nothing to judge.
  await getText(http, join(opts.query, "/api/v1/status/buildinfo")).catch(async () => {
    await getText(http, join(opts.query, "/-/ready"));
  });
  const stores = await readStores(http, opts.query);
  const queryComponent = await readComponent(http, opts.query);
  const labels = new Set(REPLICA_LABELS);
  // Names a selector takes unquoted: a label name outside them (UTF-8 names) is left out of the probes.
  const plain = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
  for (const s of stores)
    for (const set of s.labelSets) for (const k of Object.keys(set)) if (plain.test(k)) labels.add(k);
  const [dedup, components, kube, bucket] = await Promise.all([
    dedupProbes(http, opts.query, [...labels].sort()),
    Promise.all(opts.metrics.map((url) => readComponent(http, url))),
    Promise.all((opts.kube ?? []).map(kubeComponents)),
    opts.bucket ? readBucketView(opts.bucketHttp ?? http, opts.bucket) : Promise.resolve(undefined),
  ]);
  return {
    now,
    query: { ...queryComponent, stores },
    dedup,
    components: [...components, ...kube.flat()],
    ...(bucket ? { bucket } : {}),
  };
}
