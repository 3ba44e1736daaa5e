// What `up` does to each process of a local fleet that may already run: create, start, replace, remove or keep it.
import { table } from "../../ui/table.ts";
import type { Executables } from "./binaries.ts";
import { hasExited } from "./proc.ts";
import type { ProcessPlan } from "./processes.ts";
import type { ProcessRecord } from "./state.ts";
import { specHash } from "./supervisor.ts";

export type ConvergeAction = "create" | "start" | "replace" | "remove" | "unchanged";

export interface ProcessAction {
  id: string;
  action: ConvergeAction;
  why: string;
  /** The running fleet's record of it, when it has one. */
  record?: ProcessRecord;
}

/** What `up` does to each process: start what is missing or dead, replace what differs from the plan, keep the rest. */
export function convergeActions(
  planned: ProcessPlan[],
  recorded: ProcessRecord[],
  executables: Executables,
): ProcessAction[] {
  const out: ProcessAction[] = [];
  for (const p of planned) {
    const record = recorded.find((r) => r.id === p.id);
    const hash = specHash(p, executables.get(p.binary) ?? p.binary);
    if (!record) out.push({ id: p.id, action: "create", why: "not running yet" });
    else if (record.specHash !== hash)
      out.push({ id: p.id, action: "replace", why: "its command, environment or files changed", record });
    else if (hasExited(record))
      out.push({ id: p.id, action: "start", why: `was not running (pid ${record.pid} is gone)`, record });
    else out.push({ id: p.id, action: "unchanged", why: `runs as planned (pid ${record.pid})`, record });
  }
  for (const record of recorded) {
    if (!planned.some((p) => p.id === record.id))
      out.push({ id: record.id, action: "remove", why: "no longer in the plan", record });
  }
  return out;
}

export function formatActions(actions: ProcessAction[]): string {
  const changed = actions.filter((a) => a.action !== "unchanged");
  const unchanged = actions.length - changed.length;
  const rows = table(
    ["ACTION", "PROCESS", "WHY"],
    changed.map((a) => [a.action, a.id, a.why]),
  );
  return `${rows}${unchanged} process(es) unchanged\n`;
}
