// One way to keep a JSON file in the state dir: read it (a missing file is undefined), validate what it holds, and
// write it atomically, readable by the user only. The Kubernetes and local runtimes, discovered addresses and the
// runtime record all use it.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface ReadJsonOptions<T> {
  /** Checks what the file holds and returns it typed; throws when it is not what the file should hold. */
  validate: (value: unknown) => T;
  /** The error when the file exists but cannot be read (its permissions, most likely). */
  unreadable: string;
  /** The error when it is not JSON or fails validate: which file, and what the user can do about it. */
  damaged: string;
}

/** The file's validated content, or undefined when there is no such file. */
export async function readJsonFile<T>(file: string, opts: ReadJsonOptions<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(opts.unreadable, { cause });
  }
  try {
    return opts.validate(JSON.parse(text));
  } catch (cause) {
    throw new Error(opts.damaged, { cause });
  }
}

/**
 * Writes value as indented JSON: to a temporary file first, then renamed over the file, so that a reader never sees
 * half of it. The file gets mode 0600; a missing directory is made with 0700.
 */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
