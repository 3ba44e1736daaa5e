// `thanos-fleet verify`: endpoints from the runtime, every check, a table or JSON, and the exit code.

import { DurationError, parseDuration } from "../duration.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { waitProgress } from "../ui/progress.ts";
import { formatReport } from "../verify/report.ts";
import type { Report } from "../verify/types.ts";
import { CHECK_IDS, type VerifyOptions, verifyFleet } from "../verify/verify.ts";
import { verifyFleetUntil } from "../verify/wait.ts";

export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/** Exit code 0 when nothing fails (pending is not failure), 1 when something does, 2 for a usage error. */
export async function verifyCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean; wait?: string; skip?: string[] },
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
  const unknown = (opts.skip ?? []).filter((id) => !CHECK_IDS.includes(id));
  if (unknown.length > 0) {
    io.stderr.write(`--skip ${unknown.join(", ")}: no such check; the checks are ${CHECK_IDS.join(", ")}\n`);
    return 2;
  }
  const options = opts.skip?.length ? { ...deps, skip: [...(deps.skip ?? []), ...opts.skip] } : deps;
  const endpoints = () => runtime.endpoints(topology, { stateDir: opts.stateDir });
  let report: Report;
  if (waitMs === undefined) {
    report = await verifyFleet(topology, await endpoints(), options);
  } else {
    const progress = waitProgress(io.stderr);
    try {
      report = await verifyFleetUntil(topology, endpoints, { ...options, waitMs, onProgress: progress });
    } finally {
      progress.done();
    }
  }
  io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
