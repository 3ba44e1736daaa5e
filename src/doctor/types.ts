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
  query: Component & { stores: StoreEntry[] };
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
