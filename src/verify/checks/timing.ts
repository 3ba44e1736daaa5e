// When data can be expected: blocks appear only after Prometheus cut one, so "none yet" is pending until then.
import type { FleetEndpoints } from "../../endpoints.ts";
import { durationOr } from "../duration.ts";
import { sameLabels } from "../expect.ts";
import type { StoreEntry } from "../probe.ts";

const MINUTE = 60_000;

export function blockDurationMs(endpoints: FleetEndpoints): number {
  return durationOr(endpoints.blockDuration, 2 * 60 * MINUTE);
}

export function syncIntervalMs(endpoints: FleetEndpoints): number {
  return durationOr(endpoints.bucketSyncInterval, 15 * MINUTE);
}

/**
 * When a replica's first block should be in the bucket: Prometheus cuts its head once it spans 1.5 block
 * lengths, looks every minute, and the sidecar ships new blocks within 30 s.
 */
export function firstBlockDue(dataSince: number, blockMs: number): number {
  return dataSince + 1.5 * blockMs + 2 * MINUTE;
}

/** When the store gateway should serve a block uploaded at uploadedAt: after its next bucket sync and load. */
export function servedBy(uploadedAt: number, syncMs: number): number {
  return uploadedAt + syncMs + MINUTE;
}

/** The oldest sample a sidecar reports (its minTime in query's store list), when it reports a real one. */
export function dataSince(
  views: { entries: StoreEntry[] }[],
  labels: Record<string, string>,
  now: number,
): number | undefined {
  const times = views
    .flatMap((v) => v.entries)
    .filter((s) => s.type === "sidecar" && s.labelSets.some((l) => sameLabels(l, labels)))
    .map((s) => s.minTime)
    .filter((t) => t > 0 && t <= now);
  return times.length > 0 ? Math.min(...times) : undefined;
}

export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}
