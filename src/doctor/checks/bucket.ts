// The bucket: overlapping blocks, and what sidecars hold against what reached the bucket.
import { formatDuration } from "../../duration.ts";
import type { BlockMeta } from "../../probes/thanos.ts";
import { groupBy, iso, labelKey } from "../labels.ts";
import type { Finding, Observation } from "../types.ts";

/** How much older than a sidecar's oldest sample the bucket's newest block may end: uploads take a while. */
const GAP_SLACK_MS = 15 * 60_000;
/** A sidecar with data this old and no block at all in the bucket has not uploaded in time (blocks are ≤ 2h). */
const NEVER_UPLOADED_MS = 6 * 3_600_000;

export interface Overlap {
  a: BlockMeta;
  b: BlockMeta;
}

function showBlock(b: BlockMeta): string {
  return `${b.ulid} [${iso(b.minTime)}, ${iso(b.maxTime)}) level ${b.level}`;
}

export function showOverlap(bucket: string, p: Overlap): string {
  return `${bucket}: ${labelKey(p.a.labels)} res ${p.a.resolution}: ${showBlock(p.a)} overlaps ${showBlock(p.b)}`;
}

/** Blocks of one stream (labels and resolution) whose times overlap and neither was compacted from the other. */
export function overlaps(blocks: BlockMeta[]): Overlap[] {
  const out: Overlap[] = [];
  for (const [, stream] of groupBy(blocks, (b) => `${labelKey(b.labels)} ${b.resolution}`)) {
    const sorted = [...stream].sort((x, y) => x.minTime - y.minTime);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const a = sorted[i] as BlockMeta;
        const b = sorted[j] as BlockMeta;
        if (b.minTime >= a.maxTime) break;
        const sa = new Set(a.sources ?? [a.ulid]);
        if ((b.sources ?? [b.ulid]).some((s) => sa.has(s))) continue;
        out.push({ a, b });
      }
    }
  }
  return out;
}

export function overlappingBlocks(o: Observation, haltedReported: boolean): Finding[] {
  if (!o.bucket || haltedReported) return [];
  const found = overlaps(o.bucket.blocks);
  if (found.length === 0) return [];
  return [
    {
      id: "blocks-overlap",
      severity: "error",
      title: `${found.length} pair(s) of overlapping blocks: the compactor will halt on them, and queries may double count`,
      evidence: found.map((p) => showOverlap(o.bucket?.name ?? "", p)),
      fix: "find the writer that made them (two sources with the same external labels, or a backfill), then mark the duplicates for deletion: `thanos tools bucket mark --marker=deletion-mark.json --id=<ULID> --details=overlap`",
    },
  ];
}

export function uploadGaps(o: Observation): Finding[] {
  const bucket = o.bucket;
  if (!bucket || bucket.error) return [];
  const findings: Finding[] = [];
  for (const e of o.query.stores.filter(
    (s) => s.type === "sidecar" && !s.lastError && s.labelSets.length > 0,
  )) {
    const key = labelKey(e.labelSets[0] ?? {});
    const raw = bucket.blocks.filter((b) => b.resolution === 0 && labelKey(b.labels) === key);
    const newest = raw.reduce((m, b) => Math.max(m, b.maxTime), Number.NEGATIVE_INFINITY);
    // A sidecar whose Prometheus holds no sample yet reports an extreme minTime: nothing to compare.
    if (e.minTime <= 0 || e.minTime > o.now + GAP_SLACK_MS) continue;
    if (raw.length > 0 && newest < e.minTime - GAP_SLACK_MS) {
      findings.push({
        id: "upload-gap",
        severity: "error",
        title: `a hole of ${formatDuration(e.minTime - newest)} in ${key}: the sidecar's oldest data is newer than the bucket's newest block`,
        evidence: [
          `${o.query.url}/api/v1/stores: ${e.name} (sidecar) minTime ${iso(e.minTime)}`,
          `${bucket.name}: newest raw block of ${key} ends ${iso(newest)}`,
        ],
        fix: "the sidecar stopped uploading while Prometheus deleted its blocks: check the sidecar's --objstore.config and thanos_shipper_upload_failures_total, and keep Prometheus's --storage.tsdb.retention.time longer than uploads may stall",
      });
    } else if (raw.length === 0 && e.minTime < o.now - NEVER_UPLOADED_MS) {
      findings.push({
        id: "uploads-stalled",
        severity: "error",
        title: `the sidecar holds data since ${iso(e.minTime)} but the bucket has no block of ${key}`,
        evidence: [
          `${o.query.url}/api/v1/stores: ${e.name} (sidecar) minTime ${iso(e.minTime)}`,
          `${bucket.name}: no raw block with labels ${key}`,
        ],
        fix: "give the sidecar --objstore.config(-file) for this bucket and check thanos_shipper_upload_failures_total",
      });
    }
  }
  return findings;
}

/** The compactor's first range: 2 h raw blocks are merged into 8 h ones once their 8 h window has passed. */
const FIRST_RANGE_MS = 8 * 3_600_000;
/** How long after its window a compactor that runs at all has merged it. */
const COMPACTION_LAG_MS = 24 * 3_600_000;

export function uncompactedBlocks(o: Observation): Finding[] {
  const bucket = o.bucket;
  if (!bucket || bucket.error) return [];
  const stale: string[] = [];
  for (const [stream, blocks] of groupBy(
    bucket.blocks.filter((b) => b.resolution === 0 && b.level === 1),
    (b) => labelKey(b.labels),
  )) {
    for (const [start, inWindow] of groupBy(blocks, (b) => String(Math.floor(b.minTime / FIRST_RANGE_MS)))) {
      const end = (Number(start) + 1) * FIRST_RANGE_MS;
      if (inWindow.length > 1 && end < o.now - COMPACTION_LAG_MS && overlaps(inWindow).length === 0) {
        stale.push(
          `${bucket.name}: ${inWindow.length} level-1 blocks of ${stream} in the 8h window ending ${iso(end)}`,
        );
      }
    }
  }
  if (stale.length === 0) return [];
  return [
    {
      id: "blocks-uncompacted",
      severity: "warning",
      title:
        "raw blocks left uncompacted for more than a day after their 8h window: no compactor runs on this bucket, or it lags",
      evidence: stale.slice(0, 10),
      fix: "run one `thanos compact --wait` on this bucket; if it runs, read its thanos_compact_iterations_total and log",
    },
  ];
}
