// Each component given with --metrics: reachable, on one Thanos version, on time, a store gateway with limits, a
// sidecar that uploads.
import { metricValue } from "../../probes/metrics.ts";
import { flagsAt, groupBy } from "../labels.ts";
import type { Component, Finding, Observation } from "../types.ts";

/** Clocks further apart than this break block time ranges and sidecars' min-time checks. */
export const CLOCK_SKEW_MS = 30_000;

export function unreachable(o: Observation): Finding[] {
  const down = o.components.filter((c) => c.error);
  if (down.length === 0) return [];
  return [
    {
      id: "component-unreachable",
      severity: "error",
      title: `${down.length} component(s) given with --metrics cannot be read`,
      evidence: down.map((c) => `${c.url}: ${c.error}`),
      fix: "start the component, or give its HTTP address (its --http-address), where /metrics answers",
    },
  ];
}

function all(o: Observation): Component[] {
  return [o.query, ...o.components.filter((c) => c.url !== o.query.url)].filter((c) => !c.error);
}

/** major.minor of a version: patch releases may differ. */
function minor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

export function versionSkew(o: Observation): Finding[] {
  const thanos = all(o).filter((c) => c.kind !== "prometheus" && c.version);
  const byMinor = groupBy(thanos, (c) => minor(c.version as string));
  if (byMinor.size < 2) return [];
  return [
    {
      id: "version-skew",
      severity: "warning",
      title: `Thanos components run ${byMinor.size} different versions: ${[...byMinor.keys()].join(", ")}`,
      evidence: thanos.map((c) => `${c.url}/metrics: thanos_build_info{version="${c.version}"} (${c.kind})`),
      fix: "run one Thanos version everywhere; upgrade the oldest components first as Thanos's release notes say",
    },
  ];
}

export function clockSkew(o: Observation): Finding[] {
  const off = all(o).filter((c) => c.clockSkewMs !== undefined && Math.abs(c.clockSkewMs) > CLOCK_SKEW_MS);
  if (off.length === 0) return [];
  return [
    {
      id: "clock-skew",
      severity: "warning",
      title: "components' clocks differ from this machine's by more than 30 s",
      evidence: off.map(
        (c) => `${c.url}: Date header ${Math.round((c.clockSkewMs ?? 0) / 1000)} s from here`,
      ),
      fix: "run NTP (chrony, systemd-timesyncd) on every host",
    },
  ];
}

export function storeWithoutLimits(o: Observation): Finding[] {
  const open = o.components.filter(
    (c) =>
      c.kind === "store" &&
      c.flags &&
      (c.flags["store.limits.request-series"] ?? "0") === "0" &&
      (c.flags["store.limits.request-samples"] ?? "0") === "0",
  );
  if (open.length === 0) return [];
  return [
    {
      id: "store-no-limits",
      severity: "warning",
      title: "a store gateway without series or sample limits: one wide query can take all its memory",
      evidence: open.map(
        (c) => `${flagsAt(c)}: store.limits.request-series=0, store.limits.request-samples=0`,
      ),
      fix: "--store.limits.request-series and --store.limits.request-samples on the store gateway (e.g. 1000000 and 100000000)",
    },
  ];
}

/** Resident memory at this share of GOMEMLIMIT or more leaves no room: the next blocks' index headers do not fit. */
export const MEMORY_LIMIT_SHARE = 0.9;
/** go_gc_gomemlimit_bytes when no limit is set (math.MaxInt64), or anything that large. */
const NO_MEMORY_LIMIT = 2 ** 62;

function mib(bytes: number): string {
  if (bytes < 2 ** 10) return `${bytes} B`;
  return bytes < 2 ** 20 ? `${(bytes / 2 ** 10).toFixed(0)} KiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * A store gateway whose resident memory has reached its GOMEMLIMIT. GOMEMLIMIT bounds the Go heap only; the index
 * headers are memory-mapped files that count in resident memory beside it, and grow with the bucket. Under a container
 * limit set near GOMEMLIMIT (as GOMEMLIMIT is meant to be) they are evicted and read again, or the process is killed.
 */
export function storeMemoryOverLimit(o: Observation): Finding[] {
  const evidence: string[] = [];
  for (const c of o.components.filter((x) => x.kind === "store" && !x.error && x.source !== "kube")) {
    const limit = metricValue(c.samples, "go_gc_gomemlimit_bytes");
    const rss = metricValue(c.samples, "process_resident_memory_bytes");
    if (limit === undefined || rss === undefined || limit >= NO_MEMORY_LIMIT) continue;
    if (rss < MEMORY_LIMIT_SHARE * limit) continue;
    const heap = metricValue(c.samples, "go_memstats_heap_inuse_bytes") ?? 0;
    const blocks = metricValue(c.samples, "thanos_bucket_store_blocks_loaded") ?? 0;
    const lazy = c.flags?.["store.enable-index-header-lazy-reader"] === "true";
    const headers =
      blocks > 0
        ? `; the index headers of its ${blocks} loaded block(s) are mapped outside the Go heap${lazy ? "" : " (all of them, as --store.enable-index-header-lazy-reader is off)"}`
        : "";
    evidence.push(
      `${c.url}/metrics: process_resident_memory_bytes ${mib(rss)} against go_gc_gomemlimit_bytes ${mib(limit)}, of which go_memstats_heap_inuse_bytes ${mib(heap)}${headers}`,
    );
  }
  if (evidence.length === 0) return [];
  const indexes = (o.bucket?.blocks ?? []).filter((b) => b.indexBytes !== undefined);
  if (indexes.length > 0) {
    const total = indexes.reduce((sum, b) => sum + (b.indexBytes ?? 0), 0);
    evidence.push(
      `${o.bucket?.name}: ${indexes.length} block(s) with ${mib(total)} of index files, which the index headers are made from`,
    );
  }
  return [
    {
      id: "store-memory-over-limit",
      severity: "error",
      title:
        "a store gateway uses more memory than its GOMEMLIMIT: GOMEMLIMIT bounds only the Go heap, and the index headers it maps from disk come on top; under a container limit near GOMEMLIMIT they are evicted and read again on every query, or the store gateway is killed",
      evidence,
      fix: "give the store gateway more memory (GOMEMLIMIT about 90% of its container limit, leaving room for the index headers), load index headers only for queried blocks (--store.enable-index-header-lazy-reader), or share the blocks among store gateways (--selector.relabel-config)",
    },
  ];
}

export function sidecarsNotUploading(o: Observation): Finding[] {
  const sidecars = o.components.filter((c) => c.kind === "sidecar" && !c.error);
  // Read from its metrics, a sidecar without a bucket has no shipper; read from its object, no objstore flag.
  const noShipper = sidecars.filter((c) =>
    c.source === "kube"
      ? !c.flags?.["objstore.config"] && !c.flags?.["objstore.config-file"]
      : !c.samples.some((s) => s.name.startsWith("thanos_shipper_")),
  );
  const failing = sidecars.filter(
    (c) => (metricValue(c.samples, "thanos_shipper_upload_failures_total") ?? 0) > 0,
  );
  const findings: Finding[] = [];
  if (noShipper.length > 0) {
    findings.push({
      id: "sidecar-not-uploading",
      severity: "error",
      title:
        "a sidecar uploads nothing: it has no bucket, and its Prometheus's data is lost at its retention",
      evidence: noShipper.map((c) =>
        c.source === "kube"
          ? `${c.url} args: no --objstore.config or --objstore.config-file`
          : `${c.url}/metrics: no thanos_shipper_* metrics (no --objstore.config)`,
      ),
      fix: "give the sidecar --objstore.config-file with the bucket the store gateway and compactor read",
    });
  }
  if (failing.length > 0) {
    findings.push({
      id: "sidecar-upload-failures",
      severity: "error",
      title: "a sidecar fails to upload blocks",
      evidence: failing.map(
        (c) =>
          `${c.url}/metrics: thanos_shipper_upload_failures_total ${metricValue(c.samples, "thanos_shipper_upload_failures_total")}`,
      ),
      fix: "read the sidecar's log for the upload error; check its key may write the bucket",
    });
  }
  return findings;
}
