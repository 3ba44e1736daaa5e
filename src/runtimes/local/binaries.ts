// Finds every executable the local fleet runs before anything starts, so a missing one is reported at once, together.
import { delimiter, join } from "node:path";
import { BinaryError, ensureBinaries } from "../../binaries/build.ts";
import { isExecutableFile } from "../../binaries/cache.ts";
import { type BinaryName, isBinaryName } from "../../binaries/catalog.ts";
import { progressPrinter } from "../../binaries/progress.ts";
import { resolveBinary } from "../../binaries/resolve.ts";
import type { LocalBinary } from "../../topology/schema.ts";
import type { Topology } from "../../topology/topology.ts";
import type { ProcessPlan } from "./processes.ts";
import { configuredBinary } from "./supported.ts";

export type Executables = Map<ProcessPlan["binary"], string>;

/** HAProxy from the config's `binaries:` map, else PATH, else the sbin directories Debian installs it to. */
export function findHaproxy(topology: Topology, env: NodeJS.ProcessEnv = process.env): string {
  const configured = configuredBinary(topology, "haproxy");
  if (configured !== undefined) {
    if (isExecutableFile(configured)) return configured;
    throw new Error(
      `haproxy: configured path ${configured} (binaries.haproxy in ${topology.source}) is not an executable file`,
    );
  }
  const dirs = [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir !== "" && isExecutableFile(join(dir, "haproxy"))) return join(dir, "haproxy");
  }
  throw new Error(
    "haproxy not found on PATH: the local runtime balances each Service with HAProxy. " +
      "Install it (Debian/Ubuntu: apt-get install haproxy; macOS: brew install haproxy) or set binaries.haproxy in the config.",
  );
}

function wantedPrograms(processes: ProcessPlan[]): Set<ProcessPlan["binary"]> {
  return new Set<ProcessPlan["binary"]>(processes.map((p) => p.binary));
}

/** The pinned binaries the fleet runs that are neither configured, nor on PATH at their version, nor cached. */
export async function missingBinaries(
  topology: Topology,
  processes: ProcessPlan[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<BinaryName[]> {
  const missing: BinaryName[] = [];
  for (const name of wantedPrograms(processes)) {
    if (!isBinaryName(name) || topology.fleet.binaries[name] !== undefined) continue;
    try {
      await resolveBinary(name, { env });
    } catch {
      missing.push(name);
    }
  }
  return missing;
}

/**
 * Puts missing binaries into the cache as `npm run binaries` does: release archives where pinned, with a
 * progress bar on a terminal (stderr), else Go builds.
 */
export async function fetchBinaries(names: BinaryName[], signal: AbortSignal): Promise<void> {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  try {
    await ensureBinaries(names, {
      onProgress: progressPrinter(process.stderr, tty),
      heartbeatMs: tty ? 1_000 : 30_000,
      signal,
    });
  } catch (error) {
    if (error instanceof BinaryError) throw new Error(error.message, { cause: error.cause });
    throw error;
  }
}

export async function resolveExecutables(topology: Topology, processes: ProcessPlan[]): Promise<Executables> {
  const wanted = wantedPrograms(processes);
  const out: Executables = new Map();
  const problems: string[] = [];
  for (const name of wanted) {
    try {
      if (name === "node") out.set(name, process.execPath);
      else if (name === "haproxy") out.set(name, findHaproxy(topology));
      else {
        const configuredPath = configuredBinary(topology, name as LocalBinary);
        out.set(
          name,
          await resolveBinary(name as BinaryName, configuredPath === undefined ? {} : { configuredPath }),
        );
      }
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `the local runtime is missing ${problems.length} program(s):\n  - ${problems.join("\n  - ")}`,
    );
  }
  return out;
}
