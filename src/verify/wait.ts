// `--wait`: verify again and again until nothing fails and nothing pending can still arrive before the deadline.
import type { FleetEndpoints } from "../endpoints.ts";
import type { Topology } from "../topology/topology.ts";
import type { Report } from "./types.ts";
import { type VerifyOptions, verifyFleet } from "./verify.ts";

export interface WaitOptions extends VerifyOptions {
  /** How long to keep trying (ms). */
  waitMs: number;
  /** Pause between attempts (ms); default 2000. */
  intervalMs?: number;
  /** Called after each attempt that did not settle, with the report or the error that stopped it. */
  onProgress?: (attempt: { report?: Report; error?: unknown; remainingMs: number }) => void;
  signal?: AbortSignal;
}

/** Nothing fails, and whatever is pending is not expected before the deadline (so waiting longer cannot help). */
export function settled(report: Report, deadline: number): boolean {
  return report.checks.every(
    (c) =>
      c.status === "pass" ||
      (c.status === "pending" && c.expectedBy !== undefined && Date.parse(c.expectedBy) > deadline),
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Polls verifyFleet until settled or the deadline, and returns the last report. `endpoints` may be a function,
 * called each attempt, so a fleet that is still coming up (no endpoints yet) is retried too.
 */
export async function verifyFleetUntil(
  topology: Topology,
  endpoints: FleetEndpoints | (() => Promise<FleetEndpoints>),
  opts: WaitOptions,
): Promise<Report> {
  const deadline = Date.now() + opts.waitMs;
  const interval = opts.intervalMs ?? 2000;
  for (;;) {
    let report: Report | undefined;
    let error: unknown;
    try {
      const current = typeof endpoints === "function" ? await endpoints() : endpoints;
      report = await verifyFleet(topology, current, opts);
    } catch (e) {
      error = e;
    }
    const remainingMs = deadline - Date.now();
    if (report && settled(report, deadline)) return report;
    if (remainingMs <= 0 || opts.signal?.aborted) {
      if (report) return report;
      throw error;
    }
    opts.onProgress?.({ report, error, remainingMs });
    await sleep(Math.min(interval, remainingMs), opts.signal);
  }
}
