// One child process of the test control plane: its output in a log file, its tail for errors, and a stop
// that always ends it; children still running when the test process exits are killed with it.

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited, with how. */
  exited: Promise<string>;
  hasExited(): boolean;
  /** The last lines of its log. */
  tail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A temp dir removed at exit if its owner has not removed it by then (a test runner killed half-way). */
export function removeAtExit(dir: string): () => void {
  installExitHooks();
  dirs.add(dir);
  return () => dirs.delete(dir);
}

/** Kills every live child (and removes registered dirs) when this process exits or is told to stop, so no test
 * leaves servers behind. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllNow();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export async function tailOf(file: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** util-linux's setpriv, where there is one (Linux). */
const SETPRIV = "/usr/bin/setpriv";

/**
 * The exit hooks cannot run when this process is killed outright (SIGKILL, or a test runner that lost its output
 * pipe and took its workers down): started through `setpriv --pdeathsig KILL`, which execs the command in place, a
 * child gets SIGKILL from the kernel as soon as this process is gone.
 */
function diesWithUs(command: string, args: string[]): [string, string[]] {
  return existsSync(SETPRIV) ? [SETPRIV, ["--pdeathsig", "KILL", "--", command, ...args]] : [command, args];
}

export async function startProcess(opts: {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  cwd?: string;
}): Promise<ManagedProcess> {
  installExitHooks();
  const fd = openSync(opts.logFile, "a");
  let child: ChildProcess;
  try {
    const [command, args] = diesWithUs(opts.command, opts.args);
    child = spawn(command, args, { cwd: opts.cwd, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) =>
      reject(new Error(`${opts.name}: cannot start ${opts.command}: ${err.message}`, { cause: err })),
    );
  });
  live.add(child);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      live.delete(child);
      resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
  });
  return {
    name: opts.name,
    pid: child.pid as number,
    logFile: opts.logFile,
    exited,
    hasExited: () => done,
    tail: (lines) => tailOf(opts.logFile, lines),
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
