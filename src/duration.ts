// The one duration parser: Go/Prometheus-style durations (30s, 5m, 1h30m) in fleet.yaml, the environment and on
// the command line (`--wait 5m`), parsed strictly so a typo is an error, not a silent default.

const DAY = 86_400_000;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: DAY,
  w: 7 * DAY,
  y: 365 * DAY,
};
// Prometheus's own grammar (model.ParseDuration): each unit at most once, largest first; "1h1h" or "30m1h" is refused.
const WHOLE = /^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
const PART = /(\d+)(ms|s|m|h|d|w|y)/g;

/** The longest duration Go (and so Prometheus and Thanos) can hold: 2^63-1 ns, about 292 years. */
export const MAX_DURATION_MS = 9_223_372_036_854;

/** Whether text is a duration parseDuration accepts, as Prometheus writes them: no spaces, no fractions. */
export function isDuration(text: string): boolean {
  return WHOLE.test(text);
}

/** A duration given on the command line that is not one: the CLI prints the message without a stack and exits 2. */
export class DurationError extends Error {
  readonly exitCode = 2;
}

/** Parses Go/Prometheus-style durations such as 30s, 5m, 1h30m; throws DurationError naming the value. */
export function parseDuration(text: string, what = "duration"): number {
  const value = text.trim();
  if (!WHOLE.test(value)) {
    throw new DurationError(
      `${what} '${text}' is not a duration: use a number with a unit (ms, s, m, h, d, w, y), e.g. 30s, 5m or 1h30m`,
    );
  }
  let ms = 0;
  for (const [, n, unit] of value.matchAll(PART)) ms += Number(n) * (UNIT_MS[unit as string] ?? 0);
  return ms;
}

/** The same, for durations a runtime reported; returns the fallback instead of throwing. */
export function durationOr(text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  try {
    return parseDuration(text);
  } catch {
    return fallbackMs;
  }
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120 && (s < 60 || s % 60 !== 0)) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
}
