// `thanos-fleet verify`: endpoints from the runtime, every check, a table or JSON, and the exit code.
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { formatReport, progressLine } from "./report.ts";
import type { Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";
import { verifyFleetUntil } from "./wait.ts";

export async function verifyCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean; wait?: string },
): Promise<number> {
  const waitMs = opts.wait === undefined ? undefined : parseDuration(opts.wait, "--wait");
  const endpoints = () => runtime.endpoints(topology, { stateDir: opts.stateDir });
  let report: Report;
  if (waitMs === undefined) {
    report = await verifyFleet(topology, await endpoints());
  } else {
    let last = "";
    report = await verifyFleetUntil(topology, endpoints, {
      waitMs,
      onProgress: ({ report: r, error, remainingMs }) => {
        const line = r
          ? progressLine(r)
          : `fleet not reachable yet: ${(error as Error)?.message ?? String(error)}`;
        if (line !== last) process.stderr.write(`verify: ${line} (${formatDuration(remainingMs)} left)\n`);
        last = line;
      },
    });
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
