// What the benchmarks that run a real local fleet share: a silent reporter, the binaries check, fleet memory sampling.
import { resolveExecutables } from "../src/runtimes/local/binaries.ts";
import { sessionsRss } from "../src/runtimes/local/proc.ts";
import { type LocalOptions, planLocalFleet } from "../src/runtimes/local/processes.ts";
import { readState } from "../src/runtimes/local/state.ts";
import type { Reporter } from "../src/runtimes/runtime.ts";
import { generateCredentials } from "../src/state/credentials.ts";
import type { Topology } from "../src/topology/topology.ts";

const SAMPLE_MS = 200;

/** `up` and `down` say nothing: the benchmark prints its own figures. */
export const quiet: Reporter = { step: () => () => {}, info: () => {}, verbose: () => {} };

/** Fails with the command that fetches or builds them when a binary the fleet runs is not cached. */
export async function requireBinaries(topology: Topology, options: LocalOptions): Promise<void> {
  const plan = planLocalFleet(topology, generateCredentials(), "/tmp/bench", options);
  await resolveExecutables(topology, plan.processes);
}

/** Samples the summed RSS of every process the fleet has started so far (each leads its own session). */
export function memorySampler(root: string): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const state = await readState(root).catch(() => undefined);
      if (state) peak = Math.max(peak, sessionsRss(new Set(state.processes.map((p) => p.pid))).bytes);
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}
