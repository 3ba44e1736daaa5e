// The local fleet's record of what it started (pids, start times, commands) and where it answers, so that
// `down` stops exactly those processes and `status`/`endpoints` report without re-deriving anything.
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Port } from "../../components/types.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import { readJsonFile, writeJsonFile } from "../../state/json-file.ts";
import type { LocalOptions, ProcessPlan, Readiness } from "./processes.ts";

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
  /** How to start it again: the supervisor restarts it from these, in the same directories. */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Digest of executable, arguments, environment and files: `up` replaces a process whose spec changed. */
  specHash: string;
  /** Times the supervisor started it again after it died. */
  restarts: number;
  /** How it last ended, when it did: "exited with code 1", "was killed by SIGKILL", "was found gone". */
  lastExit?: string;
  /** Set while it is dead and waiting for its next start (back-off). */
  nextStartAt?: string;
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

/** The detached process that restarts fleet processes which die; it outlives `up`, and `down` stops it first. */
export interface SupervisorRecord {
  pid: number;
  startTicks: number;
  executable: string;
  log: string;
  startedAt: string;
}

export const SUPERVISOR_FILE = "supervisor.json";
/** Processes the supervisor must leave down for now (a drill's fault, like scaling a workload to zero). */
export const HOLDS_FILE = "holds.json";

export function stateFile(root: string): string {
  return join(root, STATE_FILE);
}

export function readState(root: string): Promise<FleetState | undefined> {
  const file = stateFile(root);
  return readJsonFile(file, {
    validate: (value) => {
      const state = value as FleetState;
      if (state?.version !== 1 || !Array.isArray(state.processes)) throw new Error("unknown format");
      return state;
    },
    unreadable: `cannot read the local fleet's state ${file}`,
    damaged: `the local fleet's state ${file} is damaged; stop its processes by hand (see the pids in it) and delete the file`,
  });
}

/** Writes the state atomically, mode 0600 in a 0700 directory. */
export async function writeState(root: string, state: FleetState): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  await writeJsonFile(stateFile(root), state);
}

export async function removeState(root: string): Promise<void> {
  await rm(stateFile(root), { force: true });
}

/** A small record of the local fleet (supervisor, holds), checked by validate. */
function readRecord<T>(file: string, validate: (value: unknown) => T): Promise<T | undefined> {
  const message = `cannot read ${file}; delete it if it is damaged`;
  return readJsonFile(file, { validate, unreadable: message, damaged: message });
}

export function readSupervisor(root: string): Promise<SupervisorRecord | undefined> {
  return readRecord(join(root, SUPERVISOR_FILE), (value) => {
    const record = value as SupervisorRecord;
    if (typeof record?.pid !== "number") throw new Error("no pid");
    return record;
  });
}

export function writeSupervisor(root: string, record: SupervisorRecord): Promise<void> {
  return writeJsonFile(join(root, SUPERVISOR_FILE), record);
}

export async function removeSupervisor(root: string): Promise<void> {
  await rm(join(root, SUPERVISOR_FILE), { force: true });
}

export async function readHolds(root: string): Promise<string[]> {
  const holds = await readRecord(join(root, HOLDS_FILE), (value) => {
    if (!Array.isArray(value) || !value.every((id) => typeof id === "string"))
      throw new Error("not a list of ids");
    return value as string[];
  });
  return holds ?? [];
}

export async function writeHolds(root: string, ids: string[]): Promise<void> {
  if (ids.length === 0) await rm(join(root, HOLDS_FILE), { force: true });
  else await writeJsonFile(join(root, HOLDS_FILE), ids);
}
