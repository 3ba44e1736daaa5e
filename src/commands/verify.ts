// `thanos-fleet verify`: endpoints from the runtime, every check, a table or JSON, and the exit code.

import { DurationError, parseDuration } from "../duration.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { waitProgress } from "../ui/progress.ts";
import { formatReport } from "../verify/report.ts";
import type { Report } from "../verify/types.ts";
import { type VerifyOptions, verifyFleet } from "../verify/verify.ts";
import { verifyFleetUntil } from "../verify/wait.ts";

export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/** Exit code 0 when nothing fails (pending is not failure), 1 when something does, 2 for a usage error. */
export async function verifyCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean; wait?: string },
  deps: VerifyOptions & { io?: CommandIO; intervalMs?: number } = {},
): Promise<number> {
  const io = deps.io ?? process;
  let waitMs: number | undefined;
  try {
    waitMs = opts.wait === undefined ? undefined : parseDuration(opts.wait, "--wait");
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  const endpoints = () => runtime.endpoints(topology, { stateDir: opts.stateDir });
  let report: Report;
  if (waitMs === undefined) {
    report = await verifyFleet(topology, await endpoints(), deps);
  } else {
    const progress = waitProgress(io.stderr);
    try {
      report = await verifyFleetUntil(topology, endpoints, { ...deps, waitMs, onProgress: progress });
    } finally {
      progress.done();
    }
  }
  io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
