// Whether two setups answered a query the same: the same series, at the same instants, with values equal within a
// tolerance stated per kind of answer, and why that tolerance is enough.

/** One series of an answer: its labels and its points (an instant answer has one). */
export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Tolerance {
  /** Largest relative difference |a − b| / max(|a|, |b|) still called the same. */
  relative: number;
  why: string;
}

/** Raw data on both sides, the same samples: only floating-point summation order may differ. */
export const RAW: Tolerance = { relative: 1e-9, why: "raw on both sides: the same samples" };

/**
 * One side reads raw samples deduplicated at query time, the other the compactor's deduplicated blocks. Both keep,
 * per stretch of time, one replica's samples, but switch replicas at other instants: the compactor's penalty merge
 * starts again on each group of overlapping chunks, query's on each query; the two replicas scrape 10 s apart, so a
 * rate window that holds the other replica's samples extrapolates from other instants. Measured up to 0.25 % on the
 * generator's curves (testing/bench/dedup_test.ts): 1 % is a quarter of the smallest difference a panel would show.
 */
export const DEDUPLICATED: Tolerance = {
  relative: 0.01,
  why: "offline vs query-time deduplication: replicas switched at other instants (≤ 0.25 % measured)",
};

/**
 * One side read 5 min (or 1 h) downsampled data. A rate over a window then sees the counter at 5 min points instead
 * of 30 s ones, so each edge of the window can be off by up to one 5 min interval's change of the rate. The
 * generator's rates follow daily curves whose steepest change is about 1.1 % of the rate per 5 min
 * (2π × 0.5 swing × 5 min / 1,440 min), and histogram quantiles interpolate within buckets from those rates: 5 % is
 * four times that, and still less than what a dashboard panel lets a reader tell apart.
 */
export const DOWNSAMPLED: Tolerance = {
  relative: 0.05,
  why: "downsampled on one side: window edges at 5 min points (≤ 1.1 % per edge on these curves)",
};

/** The tolerance for answers read at these resolutions (`raw`, `raw+5m`, …), from these kinds of bucket. */
export function toleranceFor(resolutions: string[], oneSideDeduplicated: boolean): Tolerance {
  if (resolutions.some((r) => r.split("+").some((x) => x !== "raw" && x !== "none"))) return DOWNSAMPLED;
  return oneSideDeduplicated ? DEDUPLICATED : RAW;
}

export interface Verdict {
  same: boolean;
  /** One line for the report: `yes (≤ 1e-9; max 3e-12 over 4,320 points)` or what differs first. */
  text: string;
}

const key = (m: Record<string, string>) =>
  JSON.stringify(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));

function relDiff(a: number, b: number): number {
  if (Number.isNaN(a) && Number.isNaN(b)) return 0;
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

/** `a` (the reference setup's answer) against `b`. */
export function compareAnswers(a: Series[], b: Series[], tolerance: Tolerance): Verdict {
  const bs = new Map(b.map((s) => [key(s.metric), s]));
  const as = new Map(a.map((s) => [key(s.metric), s]));
  const onlyA = [...as.keys()].filter((k) => !bs.has(k));
  const onlyB = [...bs.keys()].filter((k) => !as.has(k));
  if (onlyA.length > 0 || onlyB.length > 0) {
    const first = onlyA[0] ?? onlyB[0];
    return {
      same: false,
      text: `no: ${onlyA.length} series only in the first, ${onlyB.length} only in the second (e.g. ${first})`,
    };
  }
  let points = 0;
  let max = 0;
  let beyond = 0;
  let worst = "";
  for (const [k, sa] of as) {
    const sb = bs.get(k) as Series;
    const vb = new Map(sb.values.map(([t, v]) => [t, Number(v)]));
    if (sa.values.length !== sb.values.length || sa.values.some(([t]) => !vb.has(t))) {
      return {
        same: false,
        text: `no: ${k} has ${sa.values.length} points in the first, ${sb.values.length} in the second, at other instants`,
      };
    }
    for (const [t, v] of sa.values) {
      points++;
      const d = relDiff(Number(v), vb.get(t) as number);
      if (d > tolerance.relative) beyond++;
      if (d > max) {
        max = d;
        worst = `${k} at ${t}: ${v} vs ${vb.get(t)}`;
      }
    }
  }
  const limit = tolerance.relative.toExponential(0);
  if (beyond > 0) {
    return {
      same: false,
      text: `no: ${beyond} of ${points} points beyond ${limit} (max ${max.toExponential(1)}, ${worst})`,
    };
  }
  return { same: true, text: `yes (≤ ${limit}; max ${max.toExponential(1)} over ${points} points)` };
}
