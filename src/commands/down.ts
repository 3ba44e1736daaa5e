// `thanos-fleet down`: stops or deletes what `up` created on a runtime, and nothing else.
import { DurationError, parseDuration } from "../duration.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { createReporter } from "../ui/reporter.ts";

export interface DownCommandOptions {
  stateDir: string;
  verbose: boolean;
  signal: AbortSignal;
  /** `--purge`: also delete data and state. */
  purge: boolean;
  /** `--wait`: how long to wait until what was deleted from existing Kubernetes clusters is gone. */
  wait?: string;
}

/** `--wait`, parsed before anything is deleted: a duration longer than zero. */
export function downWaitMs(wait: string | undefined): number | undefined {
  if (wait === undefined) return undefined;
  const ms = parseDuration(wait, "--wait");
  if (ms <= 0) {
    throw new DurationError(
      `--wait '${wait}' is no time to wait: give how long down may wait for what it deleted to be gone, e.g. 5m`,
    );
  }
  return ms;
}

export async function downCommand(
  runtime: Runtime,
  topology: Topology,
  opts: DownCommandOptions,
): Promise<void> {
  const waitMs = downWaitMs(opts.wait);
  await runtime.down(topology, {
    stateDir: opts.stateDir,
    verbose: opts.verbose,
    signal: opts.signal,
    reporter: createReporter({ verbose: opts.verbose }),
    purge: opts.purge,
    ...(waitMs === undefined ? {} : { waitMs }),
  });
}
