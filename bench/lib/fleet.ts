// What the benchmarks that run a real local fleet share: a silent reporter, the binaries check, fleet memory sampling.
import { readFileSync } from "node:fs";
import { resolveExecutables } from "../../src/runtimes/local/binaries.ts";
import { sessionMembers, sessionsRss } from "../../src/runtimes/local/proc.ts";
import { type LocalOptions, planLocalFleet } from "../../src/runtimes/local/processes.ts";
import { readState } from "../../src/runtimes/local/state.ts";
import type { Reporter } from "../../src/runtimes/runtime.ts";
import { generateCredentials } from "../../src/state/credentials.ts";
import type { Topology } from "../../src/topology/topology.ts";

const SAMPLE_MS = 200;

/** `up` and `down` say nothing: the benchmark prints its own figures. */
export const quiet: Reporter = { step: () => () => {}, info: () => {}, verbose: () => {} };

/** Fails with the command that fetches or builds them when a binary the fleet runs is not cached. */
export async function requireBinaries(topology: Topology, options: LocalOptions): Promise<void> {
  const plan = planLocalFleet(topology, generateCredentials(), "/tmp/bench", options);
  await resolveExecutables(topology, plan.processes);
}

/** Proportional set size (bytes): shared pages, such as one binary's code in 32 sidecars, split among their users. */
function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+([0-9]+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface MemoryPeak {
  /** Summed resident memory: what `ps` shows, each process's shared pages counted in full. */
  rss: number;
  /** Summed proportional memory: what the fleet takes from the machine, shared pages counted once. */
  pss: number;
}

/** Samples the summed RSS and PSS of every process the fleet has started so far (each leads its own session). */
export function memorySampler(root: string): { stop(): Promise<MemoryPeak> } {
  const peak: MemoryPeak = { rss: 0, pss: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const state = await readState(root).catch(() => undefined);
      if (state) {
        const sessions = new Set(state.processes.map((p) => p.pid));
        peak.rss = Math.max(peak.rss, sessionsRss(sessions).bytes);
        peak.pss = Math.max(
          peak.pss,
          sessionMembers(sessions).reduce((sum, pid) => sum + pssBytes(pid), 0),
        );
      }
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
