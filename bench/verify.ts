// `thanos-fleet verify` on a healthy default fleet run as local processes: how long one full verify takes once
// every check passes, and how long a fresh fleet takes to get there (with 1-minute blocks).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRuntime } from "../src/runtimes/local/index.ts";
import { loadTopology } from "../src/topology/load.ts";
import { formatReport } from "../src/verify/report.ts";
import { verifyFleet } from "../src/verify/verify.ts";
import { verifyFleetUntil } from "../src/verify/wait.ts";
import { type Benchmark, type Figure, median } from "./benchmark.ts";
import { quiet, requireBinaries } from "./lib/fleet.ts";

const SUBNET = process.env.THANOS_FLEET_VERIFY_BENCH_SUBNET ?? "127.75";
const TIMINGS = { blockDuration: "1m", bucketSyncInterval: "5s" };
const VERIFIES = Number(process.env.THANOS_FLEET_BENCH_VERIFIES ?? 10);
const GREEN_WITHIN_MS = 8 * 60_000;

/** Brings a local fleet up, waits until every check passes, times `verifies` full verifies, and tears it down. */
export async function benchVerify(verifies = VERIFIES): Promise<Figure[]> {
  const topology = await loadTopology();
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-bench-verify-"));
  const runtime = createLocalRuntime({ subnet: SUBNET, ...TIMINGS });
  const opts = { stateDir, reporter: quiet, signal: new AbortController().signal, verbose: false };
  try {
    const t0 = performance.now();
    await runtime.up(topology, opts);
    const endpoints = { ...TIMINGS, ...(await runtime.endpoints(topology, { stateDir })) };
    const green = await verifyFleetUntil(topology, endpoints, { waitMs: GREEN_WITHIN_MS, intervalMs: 2000 });
    if (!green.checks.every((c) => c.status === "pass")) {
      throw new Error(
        `the fleet was not all green within ${GREEN_WITHIN_MS / 60_000} min:\n${formatReport(green)}`,
      );
    }
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
