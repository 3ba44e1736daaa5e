// The local fleet's record of what it started (pids, start times, commands) and where it answers, so that
// `down` stops exactly those processes and `status`/`endpoints` report without re-deriving anything.
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Port } from "../../components/types.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import type { LocalOptions, ProcessPlan, Readiness } from "./plan.ts";

export const STATE_FILE = "fleet.json";

export interface ProcessRecord {
  id: string;
  cluster: string;
  workload: string;
  pod: string;
  container: string;
  component: ProcessPlan["component"];
  pid: number;
  startTicks: number;
  executable: string;
  ip: string;
  ports: Port[];
  readiness: Readiness;
  log: string;
  startedAt: string;
}

export interface UrlRow {
  what: string;
  cluster: string;
  url: string;
}

export interface FleetState {
  version: 1;
  runtime: "local";
  startedAt: string;
  /** True once every process was ready; false while `up` runs or after it failed. */
  complete: boolean;
  options: LocalOptions;
  processes: ProcessRecord[];
  /** Every address:port the fleet listens on; `down` checks that none is left open. */
  listen: string[];
  urls: UrlRow[];
  endpoints: FleetEndpoints;
}

export function stateFile(root: string): string {
  return join(root, STATE_FILE);
}

export async function readState(root: string): Promise<FleetState | undefined> {
  const file = stateFile(root);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read the local fleet's state ${file}`, { cause });
  }
  try {
    const state = JSON.parse(text) as FleetState;
    if (state.version !== 1 || !Array.isArray(state.processes)) throw new Error("unknown format");
    return state;
  } catch (cause) {
    throw new Error(
      `the local fleet's state ${file} is damaged; stop its processes by hand (see the pids in it) and delete the file`,
      { cause },
    );
  }
}

/** Writes the state atomically (temp file, then rename), mode 0600 in a 0700 directory. */
export async function writeState(root: string, state: FleetState): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  const file = stateFile(root);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function removeState(root: string): Promise<void> {
  await rm(stateFile(root), { force: true });
}
