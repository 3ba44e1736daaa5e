// The contract between `npm run bench` and a benchmark module: add `bench/<name>.ts` exporting `benchmark`.

export interface Figure {
  name: string;
  value: number;
  unit: "s" | "ms" | "MiB" | "×" | "cores" | "count";
  /** What the figure should stay under (at least, with `atLeast`); printed next to the median, never asserted. */
  target?: number;
  atLeast?: boolean;
}

export interface Benchmark {
  name: string;
  description: string;
  /** Runs by default; the median of each figure is reported. */
  runs: number;
  /** Runs only when named (`npm run bench -- NAME`): too long for every `npm run bench`. */
  onlyWhenNamed?: boolean;
  /** Options of its own it takes after its name (`--series 5000`): name without dashes → what it sets. */
  options?: Readonly<Record<string, string>>;
  /** Once before the runs: check preconditions (binaries cached, ports free) and fail with a fix. */
  prepare?(options: Options): Promise<void>;
  run(index: number, options: Options): Promise<Figure[]>;
  /** After the runs: more than medians can say (tables of its own), printed below the figures. */
  summary?(): string;
}

/** A benchmark's own options as given on the command line, by name without dashes. */
export type Options = Readonly<Record<string, string>>;

export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function formatValue(value: number, unit: Figure["unit"]): string {
  if (unit === "MiB") return value >= 1024 ? `${(value / 1024).toFixed(2)} GiB` : `${Math.round(value)} MiB`;
  if (unit === "s") return `${value.toFixed(1)} s`;
  if (unit === "×") return `${value.toFixed(1)}×`;
  if (unit === "cores") return `${value.toFixed(2)} cores`;
  if (unit === "count") return String(Math.round(value));
  return `${Math.round(value)} ms`;
}
