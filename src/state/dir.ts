// The state dir: credentials, discovered addresses, process records; private to the user (0700/0600). A directory
// thanos-fleet creates is made private; one that was there is used only when it already is, and never chmod-ed.
import { chmod, mkdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export function defaultStateDir(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "thanos-fleet");
}

/** A state dir that is not the user's own private directory: exit 2, before anything is written. */
export class StateDirError extends Error {
  readonly exitCode = 2;
}

/**
 * Refuses an existing state dir that is not a directory, not the user's, or that others may read or write (its
 * credentials would be theirs, or its records replaced). A missing one passes: it is created private.
 */
export async function checkStateDir(dir: string): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new StateDirError(
      `--state-dir ${dir} cannot be read (${(cause as NodeJS.ErrnoException).code}); check the path`,
      {
        cause,
      },
    );
  }
  const fix = `pass a directory of your own that others cannot read or write (a new one is created with mode 0700), or, if ${dir} is yours and meant for this alone, 'chmod 700 ${dir}'`;
  if (!s.isDirectory())
    throw new StateDirError(`--state-dir ${dir} is not a directory; pass a directory (a new one is created)`);
  const uid = process.getuid?.();
  if (uid !== undefined && s.uid !== uid) {
    throw new StateDirError(
      `--state-dir ${dir} belongs to uid ${s.uid}, not to you (uid ${uid}): it would hold your fleet's credentials; ${fix}`,
    );
  }
  const mode = s.mode & 0o7777;
  if ((mode & 0o077) !== 0) {
    const who = [mode & 0o022 ? "others can write to it" : "", mode & 0o044 ? "others can read it" : ""]
      .filter(Boolean)
      .join(" and ");
    throw new StateDirError(
      `--state-dir ${dir} has mode ${mode.toString(8).padStart(4, "0")}: ${who}, and it would hold your fleet's credentials and process records; thanos-fleet changes the mode of no directory it did not create; ${fix}`,
    );
  }
}

/** The state dir, ready to write: created private (0700) when missing, else checked as checkStateDir does. */
export async function ensureStateDir(dir: string): Promise<string> {
  await checkStateDir(dir);
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // Only what this call created is made 0700 against the umask; one made meanwhile by another is checked instead.
  if (created === undefined) await checkStateDir(dir);
  else await chmod(dir, 0o700);
  return dir;
}
