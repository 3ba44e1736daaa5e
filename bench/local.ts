// The local runtime with the default fleet: time from `up` to all-ready, each of up's steps (stages start at the
// same time where they do not wait for each other), time of `down`, and peak memory of the fleet.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRuntime } from "../src/runtimes/local/index.ts";
import { localRoot } from "../src/runtimes/local/processes.ts";
import type { Reporter } from "../src/runtimes/runtime.ts";
import { loadTopology } from "../src/topology/load.ts";
import { table } from "../src/ui/table.ts";
import { type Benchmark, type Figure, formatValue, median } from "./benchmark.ts";
import { memorySampler, quiet, requireBinaries } from "./lib/fleet.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.76";
/** How long the fleet runs after all-ready while memory is sampled (scrapes, first queries, rule evaluations). */
const HOLD_MS = Number(process.env.THANOS_FLEET_BENCH_HOLD_MS ?? 20_000);

/** Each step of `up` (a stage, its buckets, the checks before) and its durations over the runs, in seconds. */
const stepSeconds = new Map<string, number[]>();

/** A reporter that keeps how long each step of `up` took, while `timing.on`. */
const timing = { on: false };
function timingReporter(): Reporter {
  return {
    step(title) {
      const t0 = performance.now();
      if (!timing.on) return () => {};
      return () =>
        stepSeconds.set(title, [...(stepSeconds.get(title) ?? []), (performance.now() - t0) / 1000]);
    },
    info: quiet.info,
    verbose: quiet.verbose,
  };
}

function slowestStep(): [string, number] | undefined {
  const medians = [...stepSeconds].map(([title, values]) => [title, median(values)] as [string, number]);
  return medians.sort((a, b) => b[1] - a[1])[0];
}

/**
 * The default fleet; with BENCH_TLS_HTTP=false, the same with `tls.http: false`: the two runs side by side are what
 * HTTPS on the exposed HTTP ports costs.
 */
async function benchTopology() {
  const loaded = await loadTopology();
  if (process.env.BENCH_TLS_HTTP !== "false") return loaded;
  return { ...loaded, fleet: { ...loaded.fleet, tls: { ...loaded.fleet.tls, http: false } } };
}

export const benchmark: Benchmark = {
  name: "local",
  description: "default fleet as local processes (binaries cached)",
  runs: 3,
  async prepare() {
    await requireBinaries(await loadTopology(), {
      subnet: SUBNET,
      blockDuration: "2m",
      bucketSyncInterval: "15s",
    });
  },
  async run(): Promise<Figure[]> {
    const topology = await benchTopology();
    const stateDir = await mkdtemp(join(tmpdir(), "fleet-bench-"));
    const runtime = createLocalRuntime({ subnet: SUBNET });
    const opts = {
      stateDir,
      reporter: timingReporter(),
      signal: new AbortController().signal,
      verbose: false,
    };
    const sampler = memorySampler(localRoot(stateDir));
    try {
      const t0 = performance.now();
      const before = new Set(stepSeconds.keys());
      const counts = new Map([...stepSeconds].map(([k, v]) => [k, v.length]));
      timing.on = true;
      await runtime.up(topology, opts).finally(() => {
        timing.on = false;
      });
      const ready = performance.now() - t0;
      // The slowest step of this run.
      const thisRun = [...stepSeconds].flatMap(([title, values]) =>
        values.length > (counts.get(title) ?? 0) || !before.has(title) ? [values.at(-1) as number] : [],
      );
      await new Promise((r) => setTimeout(r, HOLD_MS));
      const t1 = performance.now();
      await runtime.down(topology, { ...opts, purge: false });
      const down = performance.now() - t1;
      const peak = await sampler.stop();
      return [
        { name: "up → all ready", value: ready / 1000, unit: "s", target: 4 },
        { name: "slowest step of up", value: Math.max(0, ...thisRun), unit: "s" },
        { name: "down", value: down / 1000, unit: "s" },
        { name: "peak fleet RSS", value: peak.rss / 2 ** 20, unit: "MiB", target: 2048 },
      ];
    } finally {
      await sampler.stop();
      await runtime.down(topology, { ...opts, purge: true }).catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    }
  },
  summary() {
    const slowest = slowestStep();
    if (!slowest) return "";
    const rows = [...stepSeconds].map(([title, values]) => [
      title === slowest[0] ? `${title} (slowest)` : title,
      formatValue(median(values), "s"),
      formatValue(Math.max(...values), "s"),
    ]);
    return `Steps of up, in the order they started (stages that do not wait for each other overlap):\n${table(["STEP", "MEDIAN", "MAX"], rows)}`;
  },
};
