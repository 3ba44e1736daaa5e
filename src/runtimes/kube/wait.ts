// Waiting with a deadline, on a clock tests can replace: rollouts, Jobs and load balancers are polled, never slept on.
import { setTimeout as sleep } from "node:timers/promises";

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/** A clock whose sleeps return at once and advance its time: a wait of ten minutes takes no time in a test. */
export function fakeClock(start = 0): Clock & { slept: number } {
  let t = start;
  const clock = {
    slept: 0,
    now: () => t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      t += ms;
      clock.slept += ms;
      await Promise.resolve();
    },
  };
  return clock;
}

export class WaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WaitTimeoutError";
  }
}

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}

/** Calls probe until it returns a value, or throws after timeoutMs with what() saying what never happened. */
export async function pollUntil<T>(
  clock: Clock,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; what: () => string },
): Promise<T> {
  const deadline = clock.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 2000;
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await probe();
    if (value !== undefined) return value;
    if (clock.now() >= deadline) {
      throw new WaitTimeoutError(`${opts.what()} (waited ${formatDuration(opts.timeoutMs)})`);
    }
    await clock.sleep(Math.min(interval, Math.max(0, deadline - clock.now())), opts.signal);
  }
}
