// `npm run bench [-- NAME… --runs N --list --OPTION VALUE…]`: runs every benchmark module in bench/ and prints the
// median of each figure; other options go to the benchmarks that declare them.
import { readdir } from "node:fs/promises";
import { table } from "../src/ui/table.ts";
import { type Benchmark, type Figure, formatValue, median, type Options } from "./benchmark.ts";

const NOT_MODULES = new Set(["main.ts", "benchmark.ts"]);

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

const USAGE = "usage: npm run bench -- [NAME…] [--runs N] [--list] [--OPTION VALUE…]";

function parseArgs(argv: string[]): { names: string[]; runs?: number; list: boolean; options: Options } {
  const names: string[] = [];
  const options: Record<string, string> = {};
  let runs: number | undefined;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--list") list = true;
    else if (a === "--runs" || a.startsWith("--runs=")) {
      const v = a.includes("=") ? a.slice("--runs=".length) : argv[++i];
      runs = Number(v);
      if (!Number.isInteger(runs) || runs < 1)
        throw new Error(`--runs ${v}: give a whole number of runs, 1 or more`);
    } else if (a.startsWith("--") && a.length > 2) {
      const [name, inline] = a.slice(2).split(/=(.*)/s) as [string, string | undefined];
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value; ${USAGE}`);
      options[name] = value;
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}; ${USAGE}`);
    else names.push(a);
  }
  return { names, runs, list, options };
}

function report(runs: Figure[][]): string {
  const names = [...new Set(runs.flat().map((f) => f.name))];
  const rows = names.map((name) => {
    const figures = runs.flatMap((r) => r.filter((f) => f.name === name));
    const values = figures.map((f) => f.value);
    const { unit, target, atLeast } = figures[0] as Figure;
    const m = median(values);
    const met = atLeast ? m >= (target ?? 0) : m <= (target ?? 0);
    const verdict = target === undefined ? "" : met ? "met" : "MISSED";
    return [
      name,
      formatValue(m, unit),
      formatValue(Math.min(...values), unit),
      formatValue(Math.max(...values), unit),
      target === undefined ? "-" : `${atLeast ? "≥" : "≤"} ${formatValue(target, unit)}`,
      verdict,
    ];
  });
  return table(["FIGURE", "MEDIAN", "MIN", "MAX", "TARGET", ""], rows);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const all = await discover();
  if (args.list) {
    for (const b of all) {
      process.stdout.write(`${b.name}: ${b.description} (${b.runs} runs)\n`);
      for (const [o, what] of Object.entries(b.options ?? {})) process.stdout.write(`  --${o}: ${what}\n`);
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
  for (const o of Object.keys(args.options)) {
    if (!chosen.some((b) => b.options?.[o] !== undefined))
      throw new Error(`no chosen benchmark takes --${o}; npm run bench -- --list shows each one's options`);
  }
  for (const b of chosen) {
    const count = args.runs ?? b.runs;
    process.stdout.write(`\n${b.name}: ${b.description}, median of ${count} run(s)\n`);
    const options = Object.fromEntries(
      Object.entries(args.options).filter(([o]) => b.options?.[o] !== undefined),
    );
    await b.prepare?.(options);
    const runs: Figure[][] = [];
    for (let i = 0; i < count; i++) {
      const figures = await b.run(i, options);
      process.stdout.write(
        `  run ${i + 1}: ${figures.map((f) => `${f.name} ${formatValue(f.value, f.unit)}`).join(", ")}\n`,
      );
      runs.push(figures);
    }
    process.stdout.write(`\n${report(runs)}`);
    const summary = b.summary?.();
    if (summary) process.stdout.write(`\n${summary}`);
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
