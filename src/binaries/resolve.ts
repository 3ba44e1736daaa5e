// Finds the binary to run: the configured path, else the pinned version on PATH, else the cache.

import { execFile } from "node:child_process";
import { delimiter, join } from "node:path";
import { cachedBinaryPath, isExecutableFile } from "./cache.ts";
import { type BinaryName, type BinarySpec, spec } from "./catalog.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface ResolveOptions {
  /** A path named in the user's config; used as is when given. */
  configuredPath?: string;
  /** Environment for PATH and the cache location; defaults to process.env. */
  env?: Env;
}

/** Where `npm run binaries` puts the binary. */
export function binaryPath(name: BinaryName, env: Env = process.env): string {
  return cachedBinaryPath(spec(name), env);
}

/** Runs the binary's version command; resolves to its combined output, or undefined if it cannot run. */
export function readVersion(path: string, s: BinarySpec): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(path, [...s.versionArgs], { timeout: 10_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`;
      resolve(err && out === "" ? undefined : out);
    });
  });
}

export function versionMatches(output: string | undefined, s: BinarySpec): boolean {
  return output !== undefined && s.versionPattern.test(output);
}

export async function resolveBinary(name: BinaryName, opts: ResolveOptions = {}): Promise<string> {
  const s = spec(name);
  const env = opts.env ?? process.env;
  if (opts.configuredPath !== undefined) {
    if (isExecutableFile(opts.configuredPath)) return opts.configuredPath;
    throw new Error(`${name}: configured path ${opts.configuredPath} is not an executable file`);
  }

  const mismatched: string[] = [];
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (!isExecutableFile(candidate)) continue;
    const out = await readVersion(candidate, s);
    if (versionMatches(out, s)) return candidate;
    mismatched.push(`${candidate} (${firstLine(out) ?? "no version output"})`);
  }

  const cached = cachedBinaryPath(s, env);
  if (isExecutableFile(cached)) return cached;

  const onPath = mismatched.length > 0 ? `; on PATH but not ${s.version}: ${mismatched.join(", ")}` : "";
  throw new Error(
    `${name} ${s.version} not found: not in the cache at ${cached}${onPath}. ` +
      `Run \`npm run binaries -- ${name}\` to download or build it, or set its path in the config.`,
  );
}

function firstLine(out: string | undefined): string | undefined {
  return out?.split("\n", 1)[0]?.trim() || undefined;
}
