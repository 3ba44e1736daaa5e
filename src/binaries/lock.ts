// The cache's lock file: the SHA-256 of each release archive downloaded without a pinned sum, taken from its
// release's checksum file at the first download (trust on first use). Later downloads on this machine must match it.

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { binCacheDir, writeAtomically } from "./cache.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface RecordedSum {
  sha256: string;
  /** The checksum file it was read from. */
  from: string;
  /** When it was recorded (ISO 8601). */
  recordedAt: string;
}

/** By the archive's official URL. */
export type SumLock = Record<string, RecordedSum>;

interface LockFile {
  version: 1;
  archives: SumLock;
}

export function lockFilePath(env: Env = process.env): string {
  return join(binCacheDir(env), "sums.lock.json");
}

export async function readLock(env: Env = process.env): Promise<SumLock> {
  const path = lockFilePath(env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  try {
    const lock = JSON.parse(text) as LockFile;
    if (lock.version !== 1 || typeof lock.archives !== "object" || lock.archives === null) {
      throw new Error("no version 1 and archives");
    }
    for (const [url, r] of Object.entries(lock.archives)) {
      if (!/^[0-9a-f]{64}$/.test(r?.sha256 ?? "")) throw new Error(`${url} has no SHA-256`);
    }
    return lock.archives;
  } catch (cause) {
    throw new Error(
      `${path} is not a lock file of recorded release sums (${(cause as Error).message}); ` +
        "delete it to read the releases' checksum files again",
      { cause },
    );
  }
}

/** Records the sum of the archive at `url`; what else the lock holds stays. */
export async function recordSum(url: string, sum: RecordedSum, env: Env = process.env): Promise<void> {
  const archives = await readLock(env);
  if (archives[url]?.sha256 === sum.sha256) return;
  const lock: LockFile = { version: 1, archives: { ...archives, [url]: sum } };
  await writeAtomically(lockFilePath(env), (tmp) => writeFile(tmp, `${JSON.stringify(lock, null, 2)}\n`));
}
