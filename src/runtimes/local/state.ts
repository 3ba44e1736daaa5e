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

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${file}; delete it if it is damaged`, { cause });
  }
}

async function writeJson(root: string, name: string, value: unknown): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const file = join(root, name);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export function readSupervisor(root: string): Promise<SupervisorRecord | undefined> {
  return readJson<SupervisorRecord>(join(root, SUPERVISOR_FILE));
}

export function writeSupervisor(root: string, record: SupervisorRecord): Promise<void> {
  return writeJson(root, SUPERVISOR_FILE, record);
}

export async function removeSupervisor(root: string): Promise<void> {
  await rm(join(root, SUPERVISOR_FILE), { force: true });
}

export async function readHolds(root: string): Promise<string[]> {
  return (await readJson<string[]>(join(root, HOLDS_FILE))) ?? [];
}

export async function writeHolds(root: string, ids: string[]): Promise<void> {
  if (ids.length === 0) await rm(join(root, HOLDS_FILE), { force: true });
  else await writeJson(root, HOLDS_FILE, ids);
}
