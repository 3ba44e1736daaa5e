// What doctor reads of a Thanos it knows nothing about, and what it concludes.
import type { Sample } from "../probes/metrics.ts";
import type { BlockMeta, StoreEntry } from "../probes/thanos.ts";

export type Severity = "error" | "warning" | "info";

export interface Finding {
  /** Stable id for machines and tests, e.g. `store-duplicate-labels`. */
  id: string;
  severity: Severity;
  title: string;
  /** What was read that shows it: the query, object or metric, and its answer. */
  evidence: string[];
  /** The flag or config line that fixes it. */
  fix: string;
}

export type ComponentKind =
  | "query"
  | "query-frontend"
  | "sidecar"
  | "store"
  | "compact"
  | "rule"
  | "receive"
  | "prometheus"
  | "unknown";

/** One HTTP endpoint given with `--metrics` (or the query itself), as it answered. */
export interface Component {
  url: string;
  kind: ComponentKind;
  /** Why it could not be read; the rest is empty then. */
  error?: string;
  samples: Sample[];
  /** Its flags, when it serves `/api/v1/status/flags`. */
  flags?: Record<string, string>;
  /** thanos_build_info or prometheus_build_info's version. */
  version?: string;
  /** Its clock minus ours (ms), from the Date header of its answer; undefined without one. */
  clockSkewMs?: number;
  /** Read from a Kubernetes object (flags from its args, version from its image) rather than from its HTTP address. */
  source?: "kube";
  /** The replicas its Deployment or StatefulSet asks for. */
  replicas?: number;
  /** A query-frontend's answer to doctor's range query, asked twice. */
  frontend?: FrontendProbe;
}

/**
 * What a query-frontend does with one small range query (`vector(1)` over the hour that began three hours ago, its
 * start off the step), asked twice: whether it aligned the range to the step, and whether its results cache was asked.
 */
export interface FrontendProbe {
  /** The request as sent. */
  url: string;
  /** The start asked, and the answer's first timestamp (ms). */
  start: number;
  firstTimestamp?: number;
  /** Its results cache's counters (`cortex_cache_fetched_keys_total`, `cortex_cache_hits_total`) before and after. */
  cache?: { fetchedBefore: number; fetchedAfter: number; hitsBefore: number; hitsAfter: number };
  /** Why the probe could not be made; the rest is empty then. */
  error?: string;
}

/** Query's view of its endpoints at one moment of doctor's sampling window. */
export interface StoreSample {
  at: number;
  entries: StoreEntry[];
}

/** A label name and the values it keeps in query's answers, with deduplication off and on. */
export interface DedupProbe {
  label: string;
  /** `count by (label) (up{label!=""})` as sent. */
  expr: string;
  rawValues: string[];
  dedupValues: string[];
}

export interface BucketView {
  /** Where it is, for the evidence: `s3://bucket at endpoint`. */
  name: string;
  blocks: BlockMeta[];
  /** Why it could not be read; blocks are empty then. */
  error?: string;
}

export interface Observation {
  /** ms since the epoch, when doctor started reading. */
  now: number;
  /** Its stores as last read; storeSamples holds every read of the sampling window, oldest first. */
  query: Component & { stores: StoreEntry[]; storeSamples?: StoreSample[] };
  dedup: DedupProbe[];
  components: Component[];
  bucket?: BucketView;
}

export interface DoctorReport {
  startedAt: string;
  durationMs: number;
  query: string;
  /** What doctor could read: the query, each component, the bucket. */
  read: string[];
  findings: Finding[];
  summary: Record<Severity, number>;
}
