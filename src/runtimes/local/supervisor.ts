// Starts fleet processes detached in their own session, gates each on its readiness endpoint, and stops them
// again by process group, only after checking that each pid is still the process that was started.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { HttpClientFiles } from "../../state/tls.ts";
import { hasExited, type Identity, isSameProcess, readStat, sessionMembers } from "./proc.ts";
import type { ProcessPlan, Readiness } from "./processes.ts";
import type { ProcessRecord } from "./state.ts";

const LOG_TAIL_LINES = 20;

/** A fleet process that exited or never became ready: named, with the tail of its log. */
export class ProcessError extends Error {
  constructor(
    readonly process: string,
    message: string,
    readonly log: string,
    options?: ErrorOptions,
  ) {
    super(`${process} ${message}${logTail(log)}`, options);
    this.name = "ProcessError";
  }
}

export function logTail(log: string, lines = LOG_TAIL_LINES): string {
  let text: string;
  try {
    text = readFileSync(log, "utf8");
  } catch {
    return `\n  (no log at ${log})`;
  }
  const tail = text.trimEnd().split("\n").slice(-lines);
  if (tail.length === 0 || tail[0] === "") return `\n  (its log ${log} is empty)`;
  return `\n  last lines of ${log}:\n${tail.map((l) => `    ${l}`).join("\n")}`;
}

/** One HTTP GET; true on 200. A fresh connection each time, so no socket outlives the check. */
export function httpReady(url: string, timeoutMs = 1000, tls?: HttpClientFiles): Promise<boolean> {
  return new Promise((resolve) => {
    // With the fleet's client certificate where the server asks for one; otherwise a readiness check, like a
    // kubelet's: the certificate is not what it proves.
    const secure = tls
      ? httpsOptions(tls)
      : url.startsWith("https:")
        ? { rejectUnauthorized: false }
        : undefined;
    if (tls && !secure) {
      resolve(false);
      return;
    }
    const send = secure ? httpsRequest : request;
    const req = send(url, { method: "GET", agent: false, timeout: timeoutMs, ...secure }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** The client certificate's TLS options, read at each probe (small files); undefined while they cannot be read. */
function httpsOptions(tls: HttpClientFiles) {
  try {
    return {
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      ...(tls.serverName ? { servername: tls.serverName } : {}),
    };
  } catch {
    return undefined;
  }
}

/** True when something accepts TCP connections on host:port. */
export function tcpOpen(address: string, timeoutMs = 1000): Promise<boolean> {
  const sep = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({
      host: address.slice(0, sep),
      port: Number(address.slice(sep + 1)),
      timeout: timeoutMs,
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function isReady(r: Readiness): Promise<boolean> {
  if (r.kind === "http") return httpReady(r.url, 1000, r.tls);
  const open = await Promise.all(r.addresses.map((a) => tcpOpen(a)));
  return open.every(Boolean);
}

function describeReadiness(r: Readiness): string {
  return r.kind === "http"
    ? `GET ${r.url} never answered 200`
    : `not all of ${r.addresses.join(", ")} accepted connections`;
}

async function writeFiles(p: ProcessPlan): Promise<void> {
  for (const dir of p.dirs) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  for (const f of p.files) {
    await mkdir(dirname(f.path), { recursive: true, mode: 0o700 });
    // Every file may hold credentials or pod-specific values: private to the user.
    await writeFile(f.path, f.content, { mode: 0o600 });
    await chmod(f.path, 0o600);
  }
}

export interface StartOptions {
  signal: AbortSignal;
  readyTimeoutMs: number;
  /** Called as soon as the process exists, before it is ready, so that `down` can stop it whatever happens. */
  onStarted(record: ProcessRecord): Promise<void>;
}

/** What a process needs to start, whether from the plan or from its record. */
export interface SpawnSpec {
  id: string;
  executable: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  log: string;
}

export interface Spawned {
  pid: number;
  startTicks: number;
  /** Set once the process has ended: how it ended. */
  exit(): string | undefined;
  /** Resolves when it ends, with how it ended. */
  exited: Promise<string>;
}

/** Starts one process detached (own session and process group, output appended to its log). */
export async function spawnDetached(spec: SpawnSpec): Promise<Spawned> {
  await mkdir(dirname(spec.log), { recursive: true, mode: 0o700 });
  const fd = openSync(spec.log, "a", 0o600);
  try {
    let exit: string | undefined;
    const child = spawn(spec.executable, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    const exited = new Promise<string>((resolve) => {
      child.on("exit", (code, signal) => {
        exit = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve(exit);
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (cause) =>
        reject(
          new ProcessError(spec.id, `cannot start ${spec.executable}: ${cause.message}`, spec.log, { cause }),
        ),
      );
    });
    child.unref();
    const pid = child.pid as number;
    return { pid, startTicks: readStat(pid)?.startTicks ?? -1, exit: () => exit, exited };
  } finally {
    closeSync(fd);
  }
}

/** Digest of everything that makes a process what it is: a change means it must be replaced. */
export function specHash(p: ProcessPlan, executable: string): string {
  const h = createHash("sha256");
  // A renewable certificate is replaced in place on the same key (`certs rotate`): its content is no part of the spec.
  const files = p.files.map((f) => (f.renewable ? { path: f.path, renewable: true } : f));
  h.update(JSON.stringify([executable, p.args, p.env, p.cwd, files, p.ip, p.ports]));
  return h.digest("hex").slice(0, 16);
}

/** Waits until a started process answers its readiness check; fails as soon as it exits. */
export async function waitReady(
  id: string,
  readiness: Readiness,
  log: string,
  exit: () => string | undefined,
  opts: { signal: AbortSignal; readyTimeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    if (exit()) throw new ProcessError(id, `${exit()} before it was ready`, log);
    if (await isReady(readiness)) return;
    if (exit()) throw new ProcessError(id, `${exit()} before it was ready`, log);
    if (Date.now() > deadline) {
      throw new ProcessError(
        id,
        `did not get ready within ${Math.round(opts.readyTimeoutMs / 1000)} s (${describeReadiness(readiness)})`,
        log,
      );
    }
    await sleep(100, undefined, { signal: opts.signal });
  }
}

/** Starts one process from the plan detached and waits until it is ready. */
export async function startProcess(
  p: ProcessPlan,
  executable: string,
  opts: StartOptions,
): Promise<ProcessRecord> {
  opts.signal.throwIfAborted();
  await writeFiles(p);
  const spawned = await spawnDetached({ ...p, executable });
  const record: ProcessRecord = {
    id: p.id,
    cluster: p.cluster,
    workload: p.workload,
    pod: p.pod,
    container: p.container,
    component: p.component,
    pid: spawned.pid,
    startTicks: spawned.startTicks,
    executable,
    ip: p.ip,
    ports: p.ports,
    readiness: p.readiness,
    log: p.log,
    startedAt: new Date().toISOString(),
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    specHash: specHash(p, executable),
    restarts: 0,
  };
  await opts.onStarted(record);
  await waitReady(p.id, p.readiness, p.log, spawned.exit, opts);
  return record;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export interface StopResult<T> {
  stopped: T[];
  /** Recorded, but the pid is gone or now belongs to another program: left alone. */
  gone: T[];
  /** Needed SIGKILL after the grace period. */
  killed: T[];
}

/** Stops each recorded process that is still ours: SIGTERM to its group, SIGKILL after the grace period. */
export async function stopProcesses<T extends Identity & { id: string }>(
  records: T[],
  graceMs = 10_000,
): Promise<StopResult<T>> {
  const ours = records.filter((r) => isSameProcess(r));
  const gone = records.filter((r) => !ours.includes(r));
  for (const r of ours) signalGroup(r.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (ours.some((r) => !hasExited(r)) && Date.now() < deadline) await sleep(50);
  const killed = ours.filter((r) => !hasExited(r));
  for (const r of killed) signalGroup(r.pid, "SIGKILL");
  const killDeadline = Date.now() + 5_000;
  while (killed.some((r) => !hasExited(r)) && Date.now() < killDeadline) await sleep(50);
  // Anything left in those sessions descends from a process we started (each leads its own session): no orphans.
  const sessions = new Set(ours.map((r) => r.pid));
  for (const pid of sessionMembers(sessions)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  const survivors = killed.filter((r) => !hasExited(r));
  if (survivors.length > 0) {
    throw new Error(
      `these processes survived SIGKILL: ${survivors.map((r) => `${r.id} (pid ${r.pid})`).join(", ")}`,
    );
  }
  return { stopped: ours, gone, killed };
}
