// The `supervisor` check (local runtime only): the local fleet's supervisor runs. Without it nothing starts a process
// that dies again, and every other check's "the supervisor restarts it" would be untrue.
import type { Probe } from "../probe.ts";
import { type CheckInfo, fail, pass, plural } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const SUPERVISOR: CheckInfo = { id: "supervisor", title: "the local supervisor runs" };

export async function checkSupervisor(probe: Probe): Promise<CheckResult | undefined> {
  const s = probe.endpoints.supervisor;
  if (probe.endpoints.runtime !== "local" || !s) return undefined;
  if (!s.running) {
    return fail(SUPERVISOR, [
      {
        what: "the local fleet's supervisor is not running",
        cause: "it was killed or stopped: a fleet process that dies now stays dead, and nothing restarts it",
        fix: "run `thanos-fleet up`: it starts the supervisor again, and whatever process is dead",
      },
    ]);
  }
  const held = s.held.map((h) => `${h.cluster}/${h.pod} ${h.component}`);
  return pass(
    SUPERVISOR,
    `pid ${s.pid ?? "?"}: it starts again a process that dies` +
      (held.length > 0
        ? `; ${plural(held.length, "process", "processes")} held down on purpose: ${held.join(", ")}`
        : ""),
  );
}
