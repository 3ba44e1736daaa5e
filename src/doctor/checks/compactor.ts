// The compactor: halted, sharing a bucket with another, or keeping raw data too briefly for downsampling.
import { durationOr, formatDuration } from "../../duration.ts";
import { metricValue } from "../../probes/metrics.ts";
import { flagsAt, groupBy } from "../labels.ts";
import type { Component, Finding, Observation } from "../types.ts";
import { overlaps, showOverlap } from "./bucket.ts";

const HOUR = 3_600_000;
/** Thanos downsamples raw blocks to 5m once they span 40 h, and 5m blocks to 1h once they span 10 days. */
export const RAW_FOR_5M_MS = 40 * HOUR;
export const FIVE_MINUTES_FOR_1H_MS = 10 * 24 * HOUR;

export function compactors(o: Observation): Component[] {
  return o.components.filter((c) => c.kind === "compact" && !c.error);
}

export function compactorHalted(o: Observation): Finding[] {
  const halted = compactors(o).filter((c) => metricValue(c.samples, "thanos_compact_halted") === 1);
  if (halted.length === 0) return [];
  const found = o.bucket ? overlaps(o.bucket.blocks) : [];
  return [
    {
      id: "compactor-halted",
      severity: "error",
      title:
        found.length > 0
          ? "the compactor halted on overlapping blocks: nothing is compacted, downsampled or deleted by retention"
          : "the compactor halted: nothing is compacted, downsampled or deleted by retention",
      evidence: [
        ...halted.map((c) => `${c.url}/metrics: thanos_compact_halted 1`),
        ...found.map((p) => showOverlap(o.bucket?.name ?? "", p)),
      ],
      fix:
        found.length > 0
          ? "find which writer made the overlapping blocks (two sources with the same external labels, or a backfill), mark the duplicates for deletion with `thanos tools bucket mark --marker=deletion-mark.json --id=<ULID>`, then restart the compactor"
          : "read the compactor's log for `critical error detected; halting`, repair the bucket as it says, then restart the compactor",
    },
  ];
}

/** The bucket a Thanos component writes to, as its objstore metrics name it. */
function bucketOf(c: Component): string | undefined {
  return c.samples.find((s) => s.name.startsWith("thanos_objstore_bucket_") && s.labels.bucket)?.labels
    .bucket;
}

export function compactorsShareBucket(o: Observation): Finding[] {
  // A compactor Deployment or StatefulSet with more than one replica: each replica works on the same bucket.
  const scaled: Finding[] = compactors(o)
    .filter((c) => (c.replicas ?? 1) > 1)
    .map((c) => ({
      id: "compactors-share-bucket",
      severity: "error",
      title: `the compactor runs ${c.replicas} replicas on one bucket: they compact the same blocks and make overlaps`,
      evidence: [`${c.url}: spec.replicas ${c.replicas}`],
      fix: "spec.replicas: 1 on the compactor (it is not made to scale out; to split the work, run a second one with a disjoint --selector.relabel-config)",
    }));
  const named = compactors(o).filter((c) => bucketOf(c) !== undefined);
  return [
    ...scaled,
    ...[...groupBy(named, (c) => bucketOf(c) as string)]
      .filter(([, cs]) => cs.length > 1)
      .map(([bucket, cs]) => ({
        id: "compactors-share-bucket",
        severity: "error" as const,
        title: `${cs.length} compactors work on the bucket ${bucket}: they compact the same blocks and make overlaps`,
        evidence: cs.map(
          (c) => `${c.url}/metrics: thanos_objstore_bucket_operations_total{bucket="${bucket}"}`,
        ),
        fix: "run one compactor per bucket; to split the work, give each a disjoint --selector.relabel-config",
      })),
  ];
}

/** The compactor's retention per resolution (0: forever), from its flags. */
export function retentions(c: Component): { raw: number; fiveM: number; oneH: number } | undefined {
  if (!c.flags) return undefined;
  const get = (name: string) => durationOr(c.flags?.[name], 0);
  return {
    raw: get("retention.resolution-raw"),
    fiveM: get("retention.resolution-5m"),
    oneH: get("retention.resolution-1h"),
  };
}

export function retentionTooShort(o: Observation): Finding[] {
  const findings: Finding[] = [];
  for (const c of compactors(o)) {
    const r = retentions(c);
    if (!r || c.flags?.["downsampling.disable"] === "true") continue;
    if (r.raw > 0 && r.raw < RAW_FOR_5M_MS) {
      findings.push({
        id: "retention-raw-short",
        severity: "error",
        title: `raw data is kept ${formatDuration(r.raw)}, less than the 40h a block must span before it is downsampled to 5m: no 5m data will ever exist`,
        evidence: [`${flagsAt(c)}: retention.resolution-raw=${c.flags?.["retention.resolution-raw"]}`],
        fix: "--retention.resolution-raw=40h at least (the same as or more than the 5m retention is usual)",
      });
    }
    if (r.fiveM > 0 && r.fiveM < FIVE_MINUTES_FOR_1H_MS) {
      findings.push({
        id: "retention-5m-short",
        severity: "error",
        title: `5m data is kept ${formatDuration(r.fiveM)}, less than the 10 days it must span before it is downsampled to 1h: no 1h data will ever exist`,
        evidence: [`${flagsAt(c)}: retention.resolution-5m=${c.flags?.["retention.resolution-5m"]}`],
        fix: "--retention.resolution-5m=10d at least",
      });
    }
  }
  return findings;
}
