// What Linux's /proc says about a process: whether a recorded pid is still the process we started, and its memory.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  state: string;
  session: number;
  /** Threads not yet released: a zombie leader with more still has threads exiting, and its files open. */
  threads: number;
  /** Start time in clock ticks since boot: with the pid, it identifies one process across pid reuse. */
  startTicks: number;
  /** CPU time used so far, user and system, in clock ticks (USER_HZ). */
  cpuTicks: number;
}

/** Clock ticks per second of /proc's times: USER_HZ, 100 on every Linux architecture Node runs on. */
export const TICKS_PER_SECOND = 100;

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const state = rest[0];
  const session = Number(rest[6 - 3]);
  const threads = Number(rest[20 - 3]);
  const startTicks = Number(rest[22 - 3]);
  const cpuTicks = Number(rest[14 - 3]) + Number(rest[15 - 3]);
  if (
    !state ||
    !Number.isInteger(pid) ||
    !Number.isFinite(session) ||
    !Number.isFinite(threads) ||
    !Number.isFinite(startTicks) ||
    !Number.isFinite(cpuTicks)
  )
    return undefined;
  return { pid, state, session, threads, startTicks, cpuTicks };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** argv[0] of a process, or undefined when it is gone or not readable. */
export function readArgv0(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
  } catch {
    return undefined;
  }
}

export interface Identity {
  pid: number;
  startTicks: number;
  executable: string;
}

/** True when the pid still runs the very process recorded: same start time, same executable, not a zombie. */
export function isSameProcess(id: Identity): boolean {
  const stat = readStat(id.pid);
  if (!stat || stat.state === "Z" || stat.state === "X" || stat.startTicks !== id.startTicks) return false;
  return readArgv0(id.pid) === id.executable;
}

/**
 * True once the process is gone, or a zombie whose other threads are gone too: only then are its sockets and files
 * closed (a multi-threaded process's leader turns zombie while its other threads still exit, holding the files they
 * share). Not the same as `!isSameProcess`: an exiting process loses its cmdline before it closes its files.
 */
export function hasExited(id: Omit<Identity, "executable">): boolean {
  const stat = readStat(id.pid);
  if (!stat || stat.state === "X" || stat.startTicks !== id.startTicks) return true;
  return stat.state === "Z" && stat.threads <= 1;
}

function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+([0-9]+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of resident memory (bytes) of every live process in the given sessions: each fleet process leads its own. */
export function sessionsRss(sessions: ReadonlySet<number>): { bytes: number; processes: number } {
  let kib = 0;
  let processes = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat || stat.state === "Z" || !sessions.has(stat.session)) continue;
    kib += rssKiB(stat.pid);
    processes++;
  }
  return { bytes: kib * 1024, processes };
}

/** Live processes (pids) in the given sessions. */
export function sessionMembers(sessions: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.state !== "Z" && sessions.has(stat.session)) out.push(stat.pid);
  }
  return out;
}
