// The local fleet's supervisor: a detached process that outlives `up`, watches every recorded process and starts
// a dead one again from its record, in the same directories, with a kubelet's restart policy `Always`.
import { existsSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { hasExited, isSameProcess, readArgv0, readStat } from "./proc.ts";
import { localRoot } from "./processes.ts";
import {
  type FleetState,
  type ProcessRecord,
  readHolds,
  readState,
  readSupervisor,
  removeSupervisor,
  type SupervisorRecord,
  writeState,
  writeSupervisor,
} from "./state.ts";
import { type Spawned, spawnDetached } from "./supervisor.ts";

/**
 * How a process this supervisor started ended. /proc can show it gone a moment before Node has reaped it and
 * fired its exit event, so that event gets a second; a process started by another supervisor was found gone.
 */
async function howItEnded(child: Spawned | undefined): Promise<string> {
  const found = "was found gone";
  if (!child) return found;
  return child.exit() ?? (await Promise.race([child.exited, sleep(1000, found)]));
}

/** A kubelet's container restart back-off: the first restart at once, then 10 s doubling up to 5 min. */
export const BACKOFF = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

/**
 * The wait before starting a process again after its `crashes`-th death in a row (1-based). A process that ran
 * for 10 minutes before it died starts a new row, as a kubelet forgets a back-off after a quiet period.
 */
export function restartDelay(crashes: number): number {
  if (crashes <= 1) return 0;
  return Math.min(BACKOFF.initialMs * 2 ** (crashes - 2), BACKOFF.maxMs);
}

export interface SuperviseOptions {
  signal: AbortSignal;
  tickMs?: number;
  now?: () => number;
}

/** Watches and restarts until the signal aborts; the record in fleet.json is kept current for `status`. */
export async function supervise(root: string, opts: SuperviseOptions): Promise<void> {
  const tickMs = opts.tickMs ?? 1000;
  const now = opts.now ?? Date.now;
  const log = (line: string) =>
    appendFile(join(root, "supervisor.log"), `${new Date(now()).toISOString()} ${line}\n`, { mode: 0o600 });
  const state = await readState(root);
  if (!state) throw new Error(`no local fleet is recorded in ${root}: nothing to supervise`);
  const spawned = new Map<string, Spawned>();
  const crashes = new Map<string, number>();
  await log(`supervising ${state.processes.length} processes`);

  while (!opts.signal.aborted) {
    let changed = false;
    for (const r of state.processes) {
      if (opts.signal.aborted) break;
      // An exiting process loses its command line before it closes its sockets: wait until it is gone.
      if (!hasExited(r)) continue;
      // The holds are read after the death is seen, never before: whoever holds a process down writes the hold
      // before killing it, so a death seen here comes with its hold. Read once per tick, a hold written after that
      // read and a kill seen later in the same tick would be missed, and the held process started again.
      const holds = new Set(await readHolds(root).catch(() => []));
      if (holds.has(r.id)) {
        if (r.nextStartAt !== undefined || crashes.has(r.id)) {
          delete r.nextStartAt;
          crashes.delete(r.id);
          changed = true;
        }
        continue;
      }
      if (r.nextStartAt === undefined) {
        const ran = now() - Date.parse(r.startedAt);
        const n = ran >= BACKOFF.resetAfterMs ? 1 : (crashes.get(r.id) ?? 0) + 1;
        crashes.set(r.id, n);
        r.lastExit = await howItEnded(spawned.get(r.id));
        const delay = restartDelay(n);
        r.nextStartAt = new Date(now() + delay).toISOString();
        changed = true;
        await log(
          `${r.id} (pid ${r.pid}) ${r.lastExit} after ${Math.round(ran / 1000)} s; ` +
            (delay === 0 ? "starting it again" : `starting it again in ${delay / 1000} s (back-off)`),
        );
      }
      if (Date.parse(r.nextStartAt) > now()) continue;
      changed = true;
      try {
        const child = await spawnDetached(r);
        spawned.set(r.id, child);
        Object.assign(r, {
          pid: child.pid,
          startTicks: child.startTicks,
          startedAt: new Date(now()).toISOString(),
        });
        r.restarts++;
        delete r.nextStartAt;
        await log(`${r.id} started again (pid ${r.pid}, restart ${r.restarts})`);
      } catch (error) {
        const n = (crashes.get(r.id) ?? 0) + 1;
        crashes.set(r.id, n);
        r.lastExit = (error as Error).message.split("\n")[0];
        r.nextStartAt = new Date(now() + restartDelay(n)).toISOString();
        await log(`${r.id}: ${r.lastExit}`);
      }
    }
    if (changed) await writeState(root, state);
    await sleep(tickMs, undefined, { signal: opts.signal }).catch(() => {});
  }
  await log("stopped; the fleet's processes keep running");
}

/** `thanos-fleet supervise`: records itself, supervises until SIGTERM, then removes its record. */
/**
 * The supervisor's process. With `afterUp`, it was started while `up` still starts the fleet (it takes a moment to
 * load): it records itself at once, then waits until `up` marks the fleet complete before it watches anything;
 * should `up` fail and remove the fleet's state, it exits.
 */
export async function superviseCommand(stateDir: string, opts: { afterUp?: boolean } = {}): Promise<void> {
  const root = localRoot(resolve(stateDir));
  const controller = new AbortController();
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(s, () => controller.abort());
  await writeSupervisor(root, {
    pid: process.pid,
    startTicks: readStat(process.pid)?.startTicks ?? -1,
    executable: readArgv0(process.pid) ?? process.execPath,
    log: join(root, "supervisor.log"),
    startedAt: new Date().toISOString(),
  });
  try {
    if (opts.afterUp && !(await fleetCompleted(root, controller.signal))) return;
    await supervise(root, { signal: controller.signal });
  } finally {
    const record = await readSupervisor(root).catch(() => undefined);
    if (record?.pid === process.pid) await removeSupervisor(root);
  }
}

/** Waits until `up` has marked the fleet complete: true; false when its state is gone or the signal aborts. */
async function fleetCompleted(root: string, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    const state = await readState(root).catch(() => undefined);
    if (!state) return false;
    if (state.complete) return true;
    await sleep(50, undefined, { signal }).catch(() => {});
  }
  return false;
}

/** The CLI to run the supervisor with: the compiled .js in dist, the .ts source when run from the repository. */
function cliScript(): { path: string; nodeArgs: string[] } {
  const js = fileURLToPath(new URL("../../cli.js", import.meta.url));
  if (existsSync(js)) return { path: js, nodeArgs: [] };
  const ts = fileURLToPath(new URL("../../cli.ts", import.meta.url));
  return { path: ts, nodeArgs: ["--import", import.meta.resolve("tsx")] };
}

/** True when the recorded supervisor still runs. */
export async function supervisorRunning(root: string): Promise<SupervisorRecord | undefined> {
  const record = await readSupervisor(root).catch(() => undefined);
  return record && isSameProcess(record) ? record : undefined;
}

/** A supervisor process just started, not yet known to have recorded itself. */
export interface StartingSupervisor {
  child: Spawned;
  log: string;
  root: string;
}

/**
 * Starts the supervisor detached, without waiting. With `afterUp` it watches nothing until `up` marks the fleet
 * complete (see superviseCommand): `up` starts it before the fleet, so that its start-up overlaps the fleet's.
 */
export async function spawnSupervisor(
  stateDir: string,
  opts: { afterUp?: boolean } = {},
): Promise<StartingSupervisor> {
  const root = localRoot(resolve(stateDir));
  const cli = cliScript();
  const log = join(root, "supervisor.log");
  const child = await spawnDetached({
    id: "supervisor",
    executable: process.execPath,
    args: [
      ...cli.nodeArgs,
      cli.path,
      "supervise",
      "--state-dir",
      resolve(stateDir),
      ...(opts.afterUp ? ["--after-up"] : []),
    ],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root },
    cwd: root,
    log,
  });
  return { child, log, root };
}

/** Waits until a started supervisor has recorded itself. */
export async function supervisorStarted(
  { child, log, root }: StartingSupervisor,
  signal: AbortSignal,
  timeoutMs = 20_000,
): Promise<SupervisorRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await readSupervisor(root).catch(() => undefined);
    if (record?.pid === child.pid) return record;
    const exit = child.exit();
    if (exit || Date.now() > deadline) {
      throw new Error(
        `the supervisor (pid ${child.pid}) ${exit ?? `did not start within ${timeoutMs / 1000} s`}; see ${log}`,
      );
    }
    await sleep(50, undefined, { signal });
  }
}

/** Starts the supervisor detached and waits until it has recorded itself. */
export async function startSupervisor(
  stateDir: string,
  signal: AbortSignal,
  timeoutMs = 20_000,
): Promise<SupervisorRecord> {
  return supervisorStarted(await spawnSupervisor(stateDir), signal, timeoutMs);
}

/** What `status` says of a process beyond running or not: waiting for its next start, or held down. */
export function processState(r: ProcessRecord, holds: ReadonlySet<string>, now = Date.now()): string {
  if (!hasExited(r)) return readStat(r.pid)?.state === "T" ? "stopped (SIGSTOP)" : "running";
  if (holds.has(r.id)) return "held down";
  if (r.nextStartAt !== undefined) {
    const wait = Math.max(0, Math.round((Date.parse(r.nextStartAt) - now) / 1000));
    return r.restarts > 0 && wait > 0 ? `CrashLoopBackOff (next start in ${wait} s)` : "restarting";
  }
  return "dead";
}

export type { FleetState };
