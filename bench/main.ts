// `npm run bench [-- NAME… --runs N --list --OPTION VALUE]`: runs the benchmark modules in bench/ and prints the median of each figure.
import { readdir } from "node:fs/promises";
import { table } from "../src/ui/table.ts";
import { type Benchmark, type BenchOptions, type Figure, formatValue, median } from "./benchmark.ts";

/** Modules of bench/ that are not benchmarks: the runner, the contract and the helpers benchmarks share. */
const NOT_MODULES = new Set(["main.ts", "benchmark.ts", "fleet.ts"]);

async function discover(): Promise<Benchmark[]> {
  const dir = new URL("./", import.meta.url);
  const files = (await readdir(dir)).filter(
    (f) => f.endsWith(".ts") && !f.endsWith("_test.ts") && !NOT_MODULES.has(f),
  );
  const out: Benchmark[] = [];
  for (const f of files.sort()) {
    const mod = (await import(new URL(f, dir).href)) as { benchmark?: Benchmark };
    if (!mod.benchmark) throw new Error(`bench/${f} exports no \`benchmark\`; see bench/benchmark.ts`);
    out.push(mod.benchmark);
  }
  return out;
}

interface Args {
  names: string[];
  runs?: number;
  list: boolean;
  /** Options of the benchmarks themselves, by name. */
  options: BenchOptions;
}

const USAGE = "usage: npm run bench -- [NAME…] [--runs N] [--list] [--OPTION VALUE…]";

/** `known`: the options some benchmark takes; each is `--name value` or `--name=value`. */
function parseArgs(argv: string[], known: ReadonlySet<string>): Args {
  const names: string[] = [];
  const options: BenchOptions = {};
  let runs: number | undefined;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a];
    if (a === "--list") list = true;
    else if (flag === "--runs") {
      const v = inline ?? argv[++i];
      runs = Number(v);
      if (!Number.isInteger(runs) || runs < 1)
        throw new Error(`--runs ${v}: give a whole number of runs, 1 or more`);
    } else if (flag.startsWith("--") && known.has(flag.slice(2))) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value; ${USAGE}`);
      options[flag.slice(2)] = v;
    } else if (a.startsWith("-")) {
      const more =
        known.size > 0 ? ` (benchmark options: ${[...known].map((k) => `--${k}`).join(", ")})` : "";
      throw new Error(`unknown option ${a}; ${USAGE}${more}`);
    } else names.push(a);
  }
  return { names, runs, list, options };
}

function report(runs: Figure[][]): string {
  const names = [...new Set(runs.flat().map((f) => f.name))];
  const rows = names.map((name) => {
    const figures = runs.flatMap((r) => r.filter((f) => f.name === name));
    const values = figures.map((f) => f.value);
    const { unit, target } = figures[0] as Figure;
    const m = median(values);
    const verdict = target === undefined ? "" : m <= target ? "met" : "MISSED";
    return [
      name,
      formatValue(m, unit),
      formatValue(Math.min(...values), unit),
      formatValue(Math.max(...values), unit),
      target === undefined ? "-" : `≤ ${formatValue(target, unit)}`,
      verdict,
    ];
  });
  return table(["FIGURE", "MEDIAN", "MIN", "MAX", "TARGET", ""], rows);
}

async function main(): Promise<number> {
  const all = await discover();
  const args = parseArgs(process.argv.slice(2), new Set(all.flatMap((b) => Object.keys(b.options ?? {}))));
  if (args.list) {
    for (const b of all) {
      const when = b.onlyWhenNamed ? ", only when named" : "";
      process.stdout.write(`${b.name}: ${b.description} (${b.runs} runs${when})\n`);
      for (const [k, what] of Object.entries(b.options ?? {})) process.stdout.write(`  --${k}: ${what}\n`);
    }
    return 0;
  }
  const unknown = args.names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0)
    throw new Error(`no benchmark ${unknown.join(", ")}; there are: ${all.map((b) => b.name).join(", ")}`);
  const chosen =
    args.names.length > 0
      ? all.filter((b) => args.names.includes(b.name))
      : all.filter((b) => !b.onlyWhenNamed);
  const unused = Object.keys(args.options).filter((k) => !chosen.some((b) => b.options?.[k] !== undefined));
  if (unused.length > 0) {
    const owners = all.filter((b) => unused.some((k) => b.options?.[k] !== undefined)).map((b) => b.name);
    throw new Error(`${unused.map((k) => `--${k}`).join(", ")} belongs to ${owners.join(", ")}: name it too`);
  }
  for (const b of chosen) {
    const count = args.runs ?? b.runs;
    process.stdout.write(`\n${b.name}: ${b.description}, median of ${count} run(s)\n`);
    await b.prepare?.(args.options);
    const runs: Figure[][] = [];
    for (let i = 0; i < count; i++) {
      const figures = await b.run(i, args.options);
      process.stdout.write(
        `  run ${i + 1}: ${figures.map((f) => `${f.name} ${formatValue(f.value, f.unit)}`).join(", ")}\n`,
      );
      runs.push(figures);
    }
    process.stdout.write(`\n${report(runs)}`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 1;
  },
);
