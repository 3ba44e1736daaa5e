// `thanos-fleet status`: one row per process or pod, or JSON with every endpoint URL.
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { table } from "../ui/table.ts";

export async function statusCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean },
): Promise<number> {
  const rows = await runtime.status(topology, { stateDir: opts.stateDir });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ runtime: runtime.name, processes: rows }, null, 2)}\n`);
  } else if (rows.length === 0) {
    process.stdout.write(`no fleet is running (runtime ${runtime.name}); start one with 'thanos-fleet up'\n`);
  } else {
    process.stdout.write(
      table(
        ["CLUSTER", "COMPONENT", "POD", "PID", "ADDRESS", "READY"],
        rows.map((r) => [
          r.cluster,
          r.component,
          r.pod,
          r.pid?.toString() ?? "-",
          r.address,
          r.ready ? "yes" : "no",
        ]),
      ),
    );
  }
  return rows.length > 0 && rows.every((r) => r.ready) ? 0 : 1;
}
