// When data can be expected: blocks appear only after Prometheus cut one, so "none yet" is pending until then.

import { durationOr } from "../../duration.ts";
import type { Target } from "../../endpoints.ts";
import { sameLabels } from "../expect.ts";
import type { Probe, StoreEntry } from "../probe.ts";

const MINUTE = 60_000;

/** A flag's value from a component's /api/v1/status/flags (Prometheus and Thanos both serve it). */
async function flag(probe: Probe, target: Target | undefined, name: string): Promise<string | undefined> {
  if (!target) return undefined;
  try {
    return (await probe.api<Record<string, string>>(target.url, "/api/v1/status/flags"))[name];
  } catch {
    return undefined;
  }
}

/**
 * The TSDB block length: as the runtime reports it, else as Prometheus runs (its min-block-duration flag),
 * else the 2h of production.
 */
export async function blockDurationMs(probe: Probe): Promise<number> {
  const reported = probe.endpoints.blockDuration;
  if (reported) return durationOr(reported, 2 * 60 * MINUTE);
  const prometheus = probe.endpoints.targets.find((t) => t.component === "prometheus");
  return durationOr(await flag(probe, prometheus, "storage.tsdb.min-block-duration"), 2 * 60 * MINUTE);
}

/** How often the store gateway re-reads the bucket: as reported, else its sync-block-duration flag, else 15m. */
export async function syncIntervalMs(probe: Probe): Promise<number> {
  const reported = probe.endpoints.bucketSyncInterval;
  if (reported) return durationOr(reported, 15 * MINUTE);
  const store = probe.endpoints.targets.find((t) => t.component === "store");
  return durationOr(await flag(probe, store, "sync-block-duration"), 15 * MINUTE);
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
