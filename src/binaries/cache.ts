// Where built binaries live: outside the repository, one directory per name and version.

import { accessSync, constants, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { BinarySpec } from "./catalog.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** `$THANOS_FLEET_CACHE/bin`, else `$XDG_CACHE_HOME/thanos-fleet/bin`, else `~/.cache/thanos-fleet/bin`. */
export function binCacheDir(env: Env = process.env): string {
  if (env.THANOS_FLEET_CACHE) return join(env.THANOS_FLEET_CACHE, "bin");
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "thanos-fleet", "bin");
  return join(env.HOME || homedir(), ".cache", "thanos-fleet", "bin");
}

/** Beside bin/: copies of module source that need files added before they build (see addToSource). */
export function srcCacheDir(env: Env = process.env): string {
  return join(dirname(binCacheDir(env)), "src");
}

/** `<cache>/<name>-<version>/<name>`. */
export function cachedBinaryPath(s: Pick<BinarySpec, "name" | "version">, env: Env = process.env): string {
  return join(binCacheDir(env), `${s.name}-${s.version}`, s.name);
}

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `write(tmp)` to produce the file at a temporary name beside `dest`, then renames it into place,
 * so that `dest` is either absent or whole, even with two builds racing.
 */
export async function writeAtomically(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  try {
    await write(tmp);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** `<cache>/build-times.json`: how long each binary's last Go build took here, for the next build's ETA. */
export function buildTimesPath(env: Env = process.env): string {
  return join(binCacheDir(env), "build-times.json");
}

type BuildTimes = Record<string, number>;

const buildKey = (s: Pick<BinarySpec, "name" | "version">) => `${s.name}-${s.version}`;

async function readBuildTimes(env: Env): Promise<BuildTimes> {
  try {
    const times = JSON.parse(await readFile(buildTimesPath(env), "utf8")) as unknown;
    return typeof times === "object" && times !== null ? (times as BuildTimes) : {};
  } catch {
    // Missing or unreadable: only the ETA is lost.
    return {};
  }
}

/** Seconds the last build of this binary and version took on this machine, if one was recorded. */
export async function lastBuildSeconds(
  s: Pick<BinarySpec, "name" | "version">,
  env: Env = process.env,
): Promise<number | undefined> {
  const seconds = (await readBuildTimes(env))[buildKey(s)];
  return typeof seconds === "number" && seconds > 0 ? seconds : undefined;
}

/** Builds running at once record one after another, each reading what the one before wrote. */
let recording: Promise<void> = Promise.resolve();

export function recordBuildSeconds(
  s: Pick<BinarySpec, "name" | "version">,
  seconds: number,
  env: Env = process.env,
): Promise<void> {
  recording = recording
    .catch(() => {})
    .then(async () => {
      const times = { ...(await readBuildTimes(env)), [buildKey(s)]: seconds };
      await writeAtomically(buildTimesPath(env), (tmp) =>
        writeFile(tmp, `${JSON.stringify(times, null, 2)}\n`),
      );
    });
  return recording;
}
