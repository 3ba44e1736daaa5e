// `thanos-fleet verify` on a healthy default fleet run as local processes: how long one full verify takes once
// every check passes, and how long a fresh fleet takes to get there (with 1-minute blocks).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRuntime } from "../src/runtimes/local/index.ts";
import { loadTopology } from "../src/topology/load.ts";
import { formatReport } from "../src/verify/report.ts";
import { verifyFleet } from "../src/verify/verify.ts";
import { type Benchmark, type Figure, median } from "./benchmark.ts";
import { QUICK_TIMINGS, quiet, requireBinaries, upUntilGreen } from "./lib/fleet.ts";

const SUBNET = process.env.THANOS_FLEET_VERIFY_BENCH_SUBNET ?? "127.75";
const TIMINGS = QUICK_TIMINGS;
const VERIFIES = Number(process.env.THANOS_FLEET_BENCH_VERIFIES ?? 10);

/** Brings a local fleet up, waits until every check passes, times `verifies` full verifies, and tears it down. */
export async function benchVerify(verifies = VERIFIES): Promise<Figure[]> {
  const topology = await loadTopology();
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-bench-verify-"));
  const runtime = createLocalRuntime({ subnet: SUBNET, ...TIMINGS });
  const opts = { stateDir, reporter: quiet, signal: new AbortController().signal, verbose: false };
  try {
    const t0 = performance.now();
    const endpoints = await upUntilGreen(runtime, topology, stateDir);
    const toGreen = performance.now() - t0;
    const times: number[] = [];
    for (let i = 0; i < verifies; i++) {
      const t = performance.now();
      const report = await verifyFleet(topology, endpoints);
      times.push(performance.now() - t);
      if (!report.ok)
        throw new Error(
          `verify ${i + 1} of ${verifies} failed on the healthy fleet:\n${formatReport(report)}`,
        );
    }
    const m = median(times);
    process.stdout.write(
      `  verify of a healthy default fleet: median ${Math.round(m)} ms over ${verifies} runs\n`,
    );
    return [
      { name: "verify, healthy fleet (median)", value: m, unit: "ms", target: 3000 },
      { name: "verify, healthy fleet (slowest)", value: Math.max(...times), unit: "ms" },
      { name: "up → verify all green (1m blocks)", value: toGreen / 1000, unit: "s" },
    ];
  } finally {
    await runtime.down(topology, { ...opts, purge: true }).catch(() => {});
    await rm(stateDir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: "verify",
  description: `full verify of a healthy default local fleet, ${VERIFIES} verifies per run (binaries cached)`,
  runs: 1,
  async prepare() {
    await requireBinaries(await loadTopology(), { subnet: SUBNET, ...TIMINGS });
  },
  run: () => benchVerify(),
};
