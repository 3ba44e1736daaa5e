// The Docker engine kind needs on this host: installed, configured for privileged nodes, running, inotify raised.

import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BUILDS, binaryPath } from "./gobuild.ts";
import { run, succeeds } from "./run.ts";

const DAEMON_JSON = "/etc/docker/daemon.json";
const CAPFILTER = "/usr/local/libexec/thanos-fleet/oci-capfilter";
const RUNTIME_NAME = "capfilter";

export async function hasCommand(name: string): Promise<boolean> {
  return succeeds("sh", ["-c", `command -v ${name}`]);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Debian's docker.io when dockerd is absent, and what the builds need from Debian: runc links libseccomp
 * (headers found through pkg-config), and the node's base comes from debootstrap.
 */
export async function ensureHostPackages(log: NodeJS.WritableStream): Promise<"cached" | undefined> {
  const missing: string[] = [];
  if (!(await hasCommand("dockerd")) || !(await hasCommand("docker"))) missing.push("docker.io");
  for (const pkg of ["libseccomp-dev", "pkg-config", "debootstrap"]) {
    const record = await run("dpkg-query", ["--status", pkg]).catch(() => "");
    if (!/^Status: install ok installed$/m.test(record)) missing.push(pkg);
  }
  if (missing.length === 0) return "cached";
  if (!isRoot())
    throw new Error(
      `missing Debian packages: ${missing.join(", ")}; run kind:host as root, or install them yourself`,
    );
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update"], { env, log });
  await run("apt-get", ["install", "-y", ...missing], { env, log });
  return undefined;
}

/** Capabilities up to cap_last_cap that this host's bounding set lacks (privileged containers ask for all). */
export async function missingCapabilities(): Promise<number[]> {
  const status = await readFile("/proc/self/status", "utf8");
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const last = Number((await readFile("/proc/sys/kernel/cap_last_cap", "utf8")).trim());
  if (!hex) throw new Error("no CapBnd in /proc/self/status");
  const bits = BigInt(`0x${hex}`);
  const missing: number[] = [];
  for (let i = 0; i <= last; i++) if ((bits & (1n << BigInt(i))) === 0n) missing.push(i);
  return missing;
}

/**
 * Where the bounding set lacks capabilities, registers oci-capfilter as Docker's default runtime (kind cannot pass
 * --runtime). Resolves to "cached" when daemon.json already says so.
 */
export async function ensureDaemonConfig(): Promise<{ changed: boolean; filtered: number[] }> {
  const filtered = await missingCapabilities();
  if (filtered.length === 0) return { changed: false, filtered };
  const built = binaryPath(BUILDS.ociCapFilter, "oci-capfilter");
  const current = existsSync(CAPFILTER) ? await readFile(CAPFILTER) : undefined;
  if (!current?.equals(await readFile(built))) {
    await mkdir(dirname(CAPFILTER), { recursive: true });
    await copyFile(built, `${CAPFILTER}.new`);
    await run("mv", ["-f", `${CAPFILTER}.new`, CAPFILTER]);
  }
  const config: Record<string, unknown> = existsSync(DAEMON_JSON)
    ? JSON.parse(await readFile(DAEMON_JSON, "utf8"))
    : {};
  const runtimes = (config.runtimes ?? {}) as Record<string, { path: string }>;
  if (config["default-runtime"] === RUNTIME_NAME && runtimes[RUNTIME_NAME]?.path === CAPFILTER) {
    return { changed: false, filtered };
  }
  config.runtimes = { ...runtimes, [RUNTIME_NAME]: { path: CAPFILTER } };
  config["default-runtime"] = RUNTIME_NAME;
  await mkdir(dirname(DAEMON_JSON), { recursive: true });
  await writeFile(DAEMON_JSON, `${JSON.stringify(config, null, 2)}\n`);
  return { changed: true, filtered };
}

async function dockerdPid(): Promise<number | undefined> {
  try {
    const pid = Number((await readFile("/var/run/docker.pid", "utf8")).trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Starts dockerd (no systemd here) detached, logging to `logFile`, or reloads its runtimes with SIGHUP when it
 * runs and its config changed. Waits until `docker info` answers.
 */
export async function ensureDockerd(configChanged: boolean, logFile: string): Promise<"cached" | undefined> {
  const pid = await dockerdPid();
  if (pid !== undefined && (await succeeds("docker", ["info"]))) {
    if (!configChanged) return "cached";
    process.kill(pid, "SIGHUP");
  } else {
    await mkdir(dirname(logFile), { recursive: true });
    const out = openSync(logFile, "a");
    const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", out, out] });
    child.unref();
  }
  for (let i = 0; i < 60; i++) {
    if (await succeeds("docker", ["info"])) {
      if (configChanged) await waitForDefaultRuntime();
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`dockerd did not answer within 60 s; see ${logFile}`);
}

async function waitForDefaultRuntime(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const name = (await run("docker", ["info", "--format", "{{.DefaultRuntime}}"])).trim();
    if (name === RUNTIME_NAME) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`dockerd did not take ${RUNTIME_NAME} as its default runtime; see ${DAEMON_JSON}`);
}

const INOTIFY: Record<string, number> = {
  "fs.inotify.max_user_instances": 512,
  "fs.inotify.max_user_watches": 524288,
};

/** Raises the inotify limits that three or more clusters need (kubelet and kube-proxy fail at 128 instances). */
export async function ensureInotify(): Promise<"cached" | undefined> {
  let changed = false;
  for (const [key, want] of Object.entries(INOTIFY)) {
    const path = join("/proc/sys", ...key.split("."));
    if (Number((await readFile(path, "utf8")).trim()) >= want) continue;
    await writeFile(path, String(want));
    changed = true;
  }
  return changed ? undefined : "cached";
}
