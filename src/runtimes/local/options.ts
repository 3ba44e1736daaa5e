// How the local fleet runs: its subnet and block timings (from code, the environment, fleet.yaml or the running
// fleet) and how long one process may take to start or to stop.
import { isDuration, parseDuration } from "../../duration.ts";
import { DEFAULT_SUBNET, parseSubnet, SUBNET_ENV } from "./network.ts";
import type { LocalOptions } from "./processes.ts";

export const BLOCK_DURATION_ENV = "THANOS_FLEET_LOCAL_BLOCK_DURATION";
export const SYNC_INTERVAL_ENV = "THANOS_FLEET_LOCAL_SYNC_INTERVAL";

/**
 * Short TSDB blocks by default: Prometheus cuts a block every 2 minutes and the sidecars ship it, so store
 * gateway, bucket web and compactor have data within minutes of `up` instead of hours. 2h is what production uses.
 */
export const DEFAULT_BLOCK_DURATION = "2m";
export const DEFAULT_SYNC_INTERVAL = "15s";

export interface LocalRuntimeOptions extends Partial<LocalOptions> {
  /** How long one process may take to answer its readiness endpoint. */
  readyTimeoutMs?: number;
  /** How long `down` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

/** The timeouts of a runtime made with these options. */
export function timeouts(given: LocalRuntimeOptions): { readyTimeoutMs: number; stopGraceMs: number } {
  return { readyTimeoutMs: given.readyTimeoutMs ?? 60_000, stopGraceMs: given.stopGraceMs ?? 10_000 };
}

/** A block length or sync interval: a duration longer than 0s (a store gateway's ticker panics on 0s). */
function duration(value: string, source: string): string {
  if (!isDuration(value) || parseDuration(value) === 0) {
    throw Object.assign(
      new Error(`${source}=${JSON.stringify(value)} is not a duration longer than 0s, such as 2m or 2h`),
      { exitCode: 2 },
    );
  }
  return value;
}

/** Options given in code win over the environment, which wins over fleet.yaml's `blocks`, then the defaults. */
export function resolveLocalOptions(
  given: Partial<LocalOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
  blocks: { duration?: string; syncInterval?: string } = {},
  /** What a running fleet was started with: kept unless code, the environment or fleet.yaml says otherwise. */
  running?: LocalOptions,
): LocalOptions {
  return {
    subnet: given.subnet
      ? parseSubnet(given.subnet, "subnet")
      : parseSubnet(env[SUBNET_ENV] ?? running?.subnet ?? DEFAULT_SUBNET),
    blockDuration: duration(
      given.blockDuration ??
        env[BLOCK_DURATION_ENV] ??
        blocks.duration ??
        running?.blockDuration ??
        DEFAULT_BLOCK_DURATION,
      BLOCK_DURATION_ENV,
    ),
    bucketSyncInterval: duration(
      given.bucketSyncInterval ??
        env[SYNC_INTERVAL_ENV] ??
        blocks.syncInterval ??
        running?.bucketSyncInterval ??
        DEFAULT_SYNC_INTERVAL,
      SYNC_INTERVAL_ENV,
    ),
  };
}
