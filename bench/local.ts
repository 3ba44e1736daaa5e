// The local runtime with the default fleet: time from `up` to all-ready, time of `down`, and peak memory of the fleet.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRuntime } from "../src/runtimes/local/index.ts";
import { localRoot } from "../src/runtimes/local/processes.ts";
import { loadTopology } from "../src/topology/load.ts";
import type { Benchmark, Figure } from "./benchmark.ts";
import { memorySampler, quiet, requireBinaries } from "./lib/fleet.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.76";
/** How long the fleet runs after all-ready while memory is sampled (scrapes, first queries, rule evaluations). */
const HOLD_MS = Number(process.env.THANOS_FLEET_BENCH_HOLD_MS ?? 20_000);

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
    const topology = await loadTopology();
    const stateDir = await mkdtemp(join(tmpdir(), "fleet-bench-"));
    const runtime = createLocalRuntime({ subnet: SUBNET });
    const opts = { stateDir, reporter: quiet, signal: new AbortController().signal, verbose: false };
    const sampler = memorySampler(localRoot(stateDir));
    try {
      const t0 = performance.now();
      await runtime.up(topology, opts);
      const ready = performance.now() - t0;
      await new Promise((r) => setTimeout(r, HOLD_MS));
      const t1 = performance.now();
      await runtime.down(topology, { ...opts, purge: false });
      const down = performance.now() - t1;
      const peak = await sampler.stop();
      return [
        { name: "up → all ready", value: ready / 1000, unit: "s", target: 20 },
        { name: "down", value: down / 1000, unit: "s" },
        { name: "peak fleet RSS", value: peak.rss / 2 ** 20, unit: "MiB", target: 2048 },
      ];
    } finally {
      await sampler.stop();
      await runtime.down(topology, { ...opts, purge: true }).catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    }
  },
};
