// Builds missing binaries with the machine's Go, one at a time, into the cache.

import { spawn } from "node:child_process";
import { chmod, cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cachedBinaryPath, isExecutableFile, srcCacheDir, writeAtomically } from "./cache.ts";
import {
  BINARY_NAMES,
  type BinaryName,
  type BinarySpec,
  goBuildArgs,
  spec,
  toolModuleDir,
} from "./catalog.ts";

type Env = Readonly<Record<string, string | undefined>>;

export type BuildEvent =
  | { kind: "start"; name: BinaryName; version: string }
  | { kind: "heartbeat"; name: BinaryName; version: string; seconds: number }
  | { kind: "built"; name: BinaryName; version: string; seconds: number; path: string }
  | { kind: "cached"; name: BinaryName; version: string; path: string };

export interface EnsureOptions {
  onProgress?: (event: BuildEvent) => void;
  /** Rebuild even what the cache already holds. */
  force?: boolean;
  /** Environment for Go and the cache location; defaults to process.env. */
  env?: Env;
  /** How often a running build reports a heartbeat event; 0 for never. Default 30 s. */
  heartbeatMs?: number;
}

export interface BuildResult {
  name: BinaryName;
  version: string;
  path: string;
  status: "built" | "cached";
  /** Build time; 0 when cached. */
  seconds: number;
}

const TAIL_LINES = 30;

/** A failed `go build`, naming the module and carrying the tail of Go's output. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly binary: BinaryName,
    readonly module: string,
    readonly tail: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "BuildError";
  }
}

export function formatEvent(e: BuildEvent): string {
  const what = `${e.name} ${e.version}`;
  switch (e.kind) {
    case "start":
      return `building ${what} …`;
    case "heartbeat":
      return `still building ${what} (${e.seconds} s)`;
    case "built":
      return `${what} built in ${e.seconds} s`;
    case "cached":
      return `${what} cached`;
  }
}

/** Builds, in order and one at a time (Go already uses every core), each named binary the cache lacks. */
export async function ensureBinaries(
  names: readonly BinaryName[] = BINARY_NAMES,
  opts: EnsureOptions = {},
): Promise<BuildResult[]> {
  const env = opts.env ?? process.env;
  const emit = opts.onProgress ?? (() => {});
  const results: BuildResult[] = [];
  for (const name of new Set(names)) {
    const s = spec(name);
    const path = cachedBinaryPath(s, env);
    if (!opts.force && isExecutableFile(path)) {
      emit({ kind: "cached", name, version: s.version, path });
      results.push({ name, version: s.version, path, status: "cached", seconds: 0 });
      continue;
    }
    emit({ kind: "start", name, version: s.version });
    const started = Date.now();
    const elapsed = () => Math.round((Date.now() - started) / 1000);
    const heartbeatMs = opts.heartbeatMs ?? 30_000;
    const timer =
      heartbeatMs > 0
        ? setInterval(
            () => emit({ kind: "heartbeat", name, version: s.version, seconds: elapsed() }),
            heartbeatMs,
          )
        : undefined;
    try {
      await writeAtomically(path, (tmp) => goBuild(name, tmp, env));
    } finally {
      clearInterval(timer);
    }
    const seconds = elapsed();
    emit({ kind: "built", name, version: s.version, seconds, path });
    results.push({ name, version: s.version, path, status: "built", seconds });
  }
  return results;
}

async function goBuild(name: BinaryName, out: string, env: Env): Promise<void> {
  const s = spec(name);
  // Static binaries: no C toolchain needed, and they run on any Linux.
  const goEnv: Record<string, string | undefined> = { ...env, CGO_ENABLED: "0" };
  let dir = toolModuleDir(s);
  if (s.addToSource) {
    // The download is checked against the wrapper's go.sum; the copy builds with upstream's go.mod.
    const info = await runGo(["mod", "download", "-json", `${s.module}@${s.moduleVersion}`], dir, goEnv, s);
    dir = await copySource(s.name, s.version, (JSON.parse(info) as { Dir: string }).Dir, s.addToSource, env);
    goEnv.GOWORK = "off";
  }
  await runGo(goBuildArgs(s, out), dir, goEnv, s);
}

async function copySource(
  name: string,
  version: string,
  from: string,
  add: Readonly<Record<string, Uint8Array>>,
  env: Env,
): Promise<string> {
  const dir = join(srcCacheDir(env), `${name}-${version}`);
  await rm(dir, { recursive: true, force: true });
  await cp(from, dir, { recursive: true });
  // The module cache is read-only, and cp keeps modes.
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    await chmod(join(e.parentPath, e.name), e.isDirectory() ? 0o755 : 0o644);
  }
  for (const [rel, content] of Object.entries(add)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  return dir;
}

/** Runs go in `cwd`; resolves to its stdout, or rejects with a BuildError carrying the tail of its output. */
function runGo(args: string[], cwd: string, env: Env, s: BinarySpec): Promise<string> {
  const what = `${s.name} ${s.version} (module ${s.module}@${s.moduleVersion}, tools/${s.toolDir})`;
  const tail: string[] = [];
  const stdout: Buffer[] = [];
  let partial = "";
  const collect = (chunk: Buffer) => {
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    tail.push(...lines);
    if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
  };
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      collect(chunk);
    });
    child.stderr.on("data", collect);
    child.on("error", (err: NodeJS.ErrnoException) => {
      const msg =
        err.code === "ENOENT"
          ? `building ${what}: no \`go\` on PATH; install Go 1.26 or later`
          : `building ${what}: ${err.message}`;
      reject(new BuildError(msg, s.name, s.module, "", { cause: err }));
    });
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(stdout).toString("utf8"));
      if (partial) tail.push(partial);
      const text = tail.slice(-TAIL_LINES).join("\n");
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new BuildError(`building ${what}: go ${args[0]} ${how}:\n${text}`, s.name, s.module, text));
    });
  });
}
