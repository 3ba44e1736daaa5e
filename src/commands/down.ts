// `thanos-fleet down`: stops or deletes what `up` created on a runtime, and nothing else.
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { createReporter } from "../ui/reporter.ts";

export interface DownCommandOptions {
  stateDir: string;
  verbose: boolean;
  signal: AbortSignal;
  /** `--purge`: also delete data and state. */
  purge: boolean;
}

export async function downCommand(
  runtime: Runtime,
  topology: Topology,
  opts: DownCommandOptions,
): Promise<void> {
  await runtime.down(topology, {
    stateDir: opts.stateDir,
    verbose: opts.verbose,
    signal: opts.signal,
    reporter: createReporter({ verbose: opts.verbose }),
    purge: opts.purge,
  });
}
