// Puts each missing pinned binary into the cache: its official release archive where one is published and
// reachable, checked against a pinned or published sum; else a build with the machine's Go.

import { spawn } from "node:child_process";
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { extractMember } from "../tar.ts";
import {
  binCacheDir,
  cachedBinaryPath,
  isExecutableFile,
  lastBuildSeconds,
  recordBuildSeconds,
  srcCacheDir,
  writeAtomically,
} from "./cache.ts";
import {
  BINARY_NAMES,
  type BinaryName,
  type BinarySpec,
  goBuildArgs,
  spec,
  toolModuleDir,
} from "./catalog.ts";
import { DownloadError, download } from "./download.ts";
import { lockFilePath, readLock, recordSum } from "./lock.ts";
import {
  currentPlatform,
  MIRROR_ENV,
  type PinnedAsset,
  type Platform,
  pinnedAsset,
  type ReleaseTable,
  sumFromChecksumFile,
} from "./release.ts";
import { readVersion, versionMatches } from "./resolve.ts";

type Env = Readonly<Record<string, string | undefined>>;

export type BuildEvent =
  /** `expected`: how long its last build here took, when one was recorded. */
  | { kind: "start"; name: BinaryName; version: string; expected?: number }
  | { kind: "heartbeat"; name: BinaryName; version: string; seconds: number; expected?: number }
  | { kind: "built"; name: BinaryName; version: string; seconds: number; path: string }
  | { kind: "cached"; name: BinaryName; version: string; path: string }
  | { kind: "download"; name: BinaryName; version: string; url: string }
  | {
      kind: "progress";
      name: BinaryName;
      version: string;
      bytes: number;
      total: number | undefined;
      /** Milliseconds since the download started. */
      elapsedMs: number;
    }
  | {
      kind: "downloaded";
      name: BinaryName;
      version: string;
      seconds: number;
      path: string;
      sha256: string;
      /** Where the sum it was checked against came from. */
      trust: Trust;
    }
  | { kind: "fallback"; name: BinaryName; version: string; reason: string };

/**
 * The sum a download is checked against: pinned in the source; read from the release's checksum file at the first
 * download on this machine (and recorded); or recorded by such a download earlier.
 */
export type Trust = "pinned" | "checksum-file" | "recorded";

/**
 * Go builds at once. Two builds from a cold cache on 2 loaded cores took 468 s at once against 804 s one after
 * the other (alertmanager and promtool; see the README): one build leaves cores idle while it links.
 */
export const PARALLEL_BUILDS = 2;

/** Where binaries come from: the release archive, else Go (auto); only one of them; or only Go. */
export type From = "auto" | "release" | "source";
export const FROM_CHOICES: readonly From[] = ["auto", "release", "source"];

export interface EnsureOptions {
  onProgress?: (event: BuildEvent) => void;
  /** Rebuild (or download again) even what the cache already holds. */
  force?: boolean;
  /** Environment for Go, the cache location and the release mirror; defaults to process.env. */
  env?: Env;
  /** How often a running build reports a heartbeat event; 0 for never. Default 30 s. */
  heartbeatMs?: number;
  from?: From;
  /** The release archives and their pinned sums; defaults to RELEASES. */
  releases?: ReleaseTable;
  /** Defaults to this machine's. */
  platform?: Platform | undefined;
  /** A download gives up when no byte arrives for this long. Default 30 s. */
  idleTimeoutMs?: number;
  /** Go builds run at once. Default PARALLEL_BUILDS. */
  parallelBuilds?: number;
  /** Specs to use instead of the catalog's, by name. */
  specs?: Partial<Record<BinaryName, BinarySpec>>;
  signal?: AbortSignal;
}

export interface BuildResult {
  name: BinaryName;
  version: string;
  path: string;
  status: "built" | "cached" | "downloaded";
  /** Build or download time; 0 when cached. */
  seconds: number;
}

const TAIL_LINES = 30;

/** A binary that could not be put into the cache; the message says why and what to do. */
export class BinaryError extends Error {
  constructor(
    message: string,
    readonly binary: BinaryName,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "BinaryError";
  }
}

/** A failed `go build`, naming the module and carrying the tail of Go's output. */
export class BuildError extends BinaryError {
  /** No `go` on PATH. */
  readonly noGo: boolean;
  constructor(
    message: string,
    binary: BinaryName,
    readonly module: string,
    readonly tail: string,
    options?: ErrorOptions & { noGo?: boolean },
  ) {
    super(message, binary, options);
    this.name = "BuildError";
    this.noGo = options?.noGo ?? false;
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function formatEvent(e: BuildEvent): string {
  const what = `${e.name} ${e.version}`;
  switch (e.kind) {
    case "start":
      return e.expected === undefined
        ? `building ${what} …`
        : `building ${what} … (its last build here took ${e.expected} s)`;
    case "heartbeat":
      return `still building ${what} (${e.seconds} s${eta(e.seconds, e.expected)})`;
    case "built":
      return `${what} built in ${e.seconds} s`;
    case "cached":
      return `${what} cached`;
    case "download":
      return `downloading ${what} from ${e.url} …`;
    case "progress": {
      const rate = e.elapsedMs > 0 ? (e.bytes * 1000) / e.elapsedMs : 0;
      const speed = `${megabytes(rate)}/s`;
      if (e.total === undefined || e.total === 0) return `${what}: ${megabytes(e.bytes)} (${speed})`;
      const pct = Math.floor((e.bytes * 100) / e.total);
      const eta = rate > 0 ? `, ${Math.ceil((e.total - e.bytes) / rate)} s left` : "";
      return `${what}: ${pct}% of ${megabytes(e.total)} (${speed}${eta})`;
    }
    case "downloaded": {
      const against =
        e.trust === "checksum-file"
          ? " against the release's checksum file (recorded: later downloads must match it)"
          : e.trust === "recorded"
            ? " against the sum recorded at its first download"
            : "";
      return `${what} downloaded, SHA-256 ${e.sha256.slice(0, 12)}… verified${against}, in ${e.seconds} s`;
    }
    case "fallback":
      return `${what}: ${e.reason}; building from source with Go`;
  }
}

/** `, ETA 23 s` from the last build's duration; past it, that it is taking longer. */
export function eta(seconds: number, expected: number | undefined): string {
  if (expected === undefined) return "";
  const left = expected - seconds;
  return left > 0 ? `, ETA ${left} s` : `, longer than the last build's ${expected} s`;
}

/** A mirror base URL in the environment must be an http(s) URL. */
export function checkMirror(env: Env): void {
  const mirror = env[MIRROR_ENV];
  if (!mirror) return;
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(mirror).protocol);
  } catch {}
  if (!ok)
    throw new Error(
      `${MIRROR_ENV}=${mirror} is not an http:// or https:// URL; set it to the mirror's base URL`,
    );
}

/**
 * Puts each named binary the cache lacks into it. Where a release archive is published for this platform it is
 * downloaded and verified, one download at a time; with `from: "auto"` a failed download is reported in one event
 * and Go builds it. Builds run PARALLEL_BUILDS at a time, once the downloads are done.
 */
export async function ensureBinaries(
  names: readonly BinaryName[] = BINARY_NAMES,
  opts: EnsureOptions = {},
): Promise<BuildResult[]> {
  const env = opts.env ?? process.env;
  checkMirror(env);
  const emit = opts.onProgress ?? (() => {});
  const results: BuildResult[] = [];
  const builds: { index: number; run: () => Promise<BuildResult> }[] = [];
  const fetcher = new ReleaseFetcher(env, opts, emit);
  try {
    for (const name of new Set(names)) {
      const s = opts.specs?.[name] ?? spec(name);
      const path = cachedBinaryPath(s, env);
      if (!opts.force && isExecutableFile(path)) {
        emit({ kind: "cached", name, version: s.version, path });
        results.push({ name, version: s.version, path, status: "cached", seconds: 0 });
        continue;
      }
      const started = Date.now();
      const got = await fromRelease(s, path, fetcher, env, opts, emit, started);
      if ("result" in got) {
        results.push(got.result);
        continue;
      }
      const index = results.length;
      results.push(undefined as unknown as BuildResult);
      builds.push({ index, run: () => build(s, path, env, opts, emit, got, started) });
    }
  } finally {
    await fetcher.cleanup();
  }
  const built = await atMost(opts.parallelBuilds ?? PARALLEL_BUILDS, builds);
  for (const [i, b] of builds.entries()) results[b.index] = built[i] as BuildResult;
  return results;
}

/**
 * Runs the tasks, at most `n` at a time, in order; after a failure no task starts, those running finish, and the
 * failure of the first task in order is thrown.
 */
async function atMost<T>(n: number, tasks: { run: () => Promise<T> }[]): Promise<T[]> {
  const out: T[] = [];
  const failures: { index: number; error: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (failures.length === 0 && next < tasks.length) {
      const index = next++;
      try {
        out[index] = await (tasks[index] as { run: () => Promise<T> }).run();
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  if (failures.length > 0) throw failures.sort((a, b) => a.index - b.index)[0]?.error;
  return out;
}

/** Why a binary is built rather than downloaded, and the release asset that could not be had, if there was one. */
interface BuildReason {
  whyNot: string | undefined;
  asset: PinnedAsset | undefined;
}

/**
 * Downloads the binary's release archive where there is one (from: auto or release): the result; else why not, for
 * the build. With `from: "release"` a binary that cannot be downloaded is an error.
 */
async function fromRelease(
  s: BinarySpec,
  path: string,
  fetcher: ReleaseFetcher,
  env: Env,
  opts: EnsureOptions,
  emit: (e: BuildEvent) => void,
  started: number,
): Promise<{ result: BuildResult } | BuildReason> {
  const { name, version } = s;
  const from = opts.from ?? "auto";
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  if (from === "source") return { whyNot: undefined, asset: undefined };
  let whyNot: string;
  let asset: PinnedAsset | undefined;
  const pinned = pinnedAsset(
    name,
    "platform" in opts ? opts.platform : currentPlatform(),
    opts.releases,
    env,
  );
  if ("none" in pinned) {
    whyNot = pinned.none;
  } else {
    asset = pinned;
    try {
      let sum: ExpectedSum | undefined;
      await writeAtomically(path, async (tmp) => {
        sum = await fetcher.fetch(s, pinned, tmp);
      });
      const { sha256, trust } = sum as ExpectedSum;
      emit({ kind: "downloaded", name, version, seconds: elapsed(), path, sha256, trust });
      return { result: { name, version, path, status: "downloaded", seconds: elapsed() } };
    } catch (err) {
      if (opts.signal?.aborted || !(err instanceof DownloadError)) throw err;
      whyNot = `download failed: ${err.message}`;
    }
  }
  if (from === "release") {
    throw new BinaryError(
      `${name} ${version}: ${whyNot}. Run with --from source to build it with Go, or --from auto to fall back to Go.`,
      name,
    );
  }
  emit({ kind: "fallback", name, version, reason: whyNot });
  return { whyNot, asset };
}

/** Builds the binary with Go into the cache, reporting its start, heartbeats with an ETA, and its end. */
async function build(
  s: BinarySpec,
  path: string,
  env: Env,
  opts: EnsureOptions,
  emit: (e: BuildEvent) => void,
  { whyNot, asset }: BuildReason,
  started: number,
): Promise<BuildResult> {
  const { name, version } = s;
  opts.signal?.throwIfAborted();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  const expected = await lastBuildSeconds(s, env);
  const last = expected === undefined ? {} : { expected };
  emit({ kind: "start", name, version, ...last });
  const building = Date.now();
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const timer =
    heartbeatMs > 0
      ? setInterval(
          () =>
            emit({
              kind: "heartbeat",
              name,
              version,
              seconds: Math.round((Date.now() - building) / 1000),
              ...last,
            }),
          heartbeatMs,
        )
      : undefined;
  try {
    await writeAtomically(path, (tmp) => goBuild(s, tmp, env));
  } catch (err) {
    if (err instanceof BuildError && err.noGo) throw neitherWay(s, asset, whyNot, env, err);
    throw err;
  } finally {
    clearInterval(timer);
  }
  await recordBuildSeconds(s, Math.max(1, Math.round((Date.now() - building) / 1000)), env);
  emit({ kind: "built", name, version, seconds: elapsed(), path });
  return { name, version, path, status: "built", seconds: elapsed() };
}

/** No download and no Go: every way there is to get the binary. */
function neitherWay(
  s: BinarySpec,
  asset: PinnedAsset | undefined,
  whyNot: string | undefined,
  env: Env,
  cause: BuildError,
): BinaryError {
  const ways = [
    ...(asset
      ? [
          `let this machine reach ${new URL(asset.from).host}, or set ${MIRROR_ENV} to a mirror that serves ${new URL(asset.url).pathname}, and run again`,
        ]
      : []),
    "install Go 1.26 or later (https://go.dev/dl/) and run again: it builds the binary from source",
    `put a ${s.name} ${s.version} on PATH, or set \`binaries: { ${s.name}: /path/to/${s.name} }\` in fleet.yaml`,
  ];
  const lines = [
    `${s.name} ${s.version} cannot be had on this machine:`,
    `  - ${whyNot ?? "downloads were not asked for (--from source)"}`,
    "  - and there is no `go` on PATH to build it",
    `Cache: ${cachedBinaryPath(s, env)}. To get it:`,
    ...ways.map((w) => `  - ${w}`),
  ];
  return new BinaryError(lines.join("\n"), s.name, { cause });
}

/** The SHA-256 an archive must have, where it came from, and the words that say so on a mismatch. */
interface ExpectedSum {
  sha256: string;
  trust: Trust;
  source?: string;
}

/**
 * Downloads release archives into a private directory in the cache, each at most once per run (prometheus and
 * promtool share one), and takes binaries out of them. A host that could not be reached is not tried again. The
 * sum an archive must have is the pinned one, else the one recorded in the lock file, else its release's checksum
 * file's, recorded once the archive has been checked against it.
 */
class ReleaseFetcher {
  private dir: string | undefined;
  private readonly archives = new Map<string, Promise<{ file: string; sum: ExpectedSum }>>();
  private readonly unreachable = new Map<string, DownloadError>();

  constructor(
    private readonly env: Env,
    private readonly opts: EnsureOptions,
    private readonly emit: (e: BuildEvent) => void,
  ) {}

  /** Puts the asset's binary at `out`; resolves to the sum the archive was checked against. */
  async fetch(s: BinarySpec, asset: PinnedAsset, out: string): Promise<ExpectedSum> {
    const { file: archive, sum } = await this.archive(s, asset);
    if (asset.member) {
      await extractMember(archive, asset.member, out).catch((err: Error) => {
        throw new DownloadError(err.message, "content", { cause: err });
      });
    } else {
      await copyFile(archive, out);
      await chmod(out, 0o755);
    }
    // The sum vouches for the bytes; running it proves it is the pinned version and runs here.
    const reported = await readVersion(out, s);
    if (!versionMatches(reported, s)) {
      const said = reported?.split("\n", 1)[0]?.trim() || "nothing";
      throw new DownloadError(
        `the archive's ${s.name} does not report ${s.version} here (it says: ${said})`,
        "content",
      );
    }
    if (sum.trust === "checksum-file" && asset.checksums) {
      await recordSum(
        asset.url,
        { sha256: sum.sha256, from: asset.checksums.url, recordedAt: new Date().toISOString() },
        this.env,
      );
    }
    return sum;
  }

  private archive(s: BinarySpec, asset: PinnedAsset): Promise<{ file: string; sum: ExpectedSum }> {
    let pending = this.archives.get(asset.from);
    if (!pending) {
      pending = this.download(s, asset);
      this.archives.set(asset.from, pending);
      // A failed download is not remembered as the archive.
      pending.catch(() => this.archives.delete(asset.from));
    }
    return pending;
  }

  private async workDir(): Promise<string> {
    this.dir ??= await mkdtemp(join(await ensureDir(binCacheDir(this.env)), ".download-"));
    return this.dir;
  }

  /** The sum the archive must have: pinned, recorded, or read from the release's checksum file. */
  private async expected(s: BinarySpec, asset: PinnedAsset): Promise<ExpectedSum> {
    if (asset.sha256) return { sha256: asset.sha256, trust: "pinned" };
    const recorded = (await readLock(this.env))[asset.url];
    if (recorded) {
      return {
        sha256: recorded.sha256,
        trust: "recorded",
        source: `recorded in ${lockFilePath(this.env)} at its first download (${recorded.recordedAt}, from ${recorded.from}); if upstream really published new bytes, delete that entry`,
      };
    }
    const checksums = asset.checksums;
    if (!checksums) throw new Error(`${s.name}: neither a pinned SHA-256 nor a checksum file`);
    const file = join(
      await this.workDir(),
      `${this.archives.size}-${checksums.from.split("/").pop() ?? "sums"}`,
    );
    try {
      await download(checksums.from, file, this.downloadOptions());
    } catch (err) {
      if (!(err instanceof DownloadError)) throw err;
      if (err.reason === "network") this.unreachable.set(new URL(checksums.from).host, err);
      throw new DownloadError(
        `no SHA-256 is pinned for it, and its release's checksum file could not be had: ${err.message}`,
        err.reason === "http" ? "checksum" : err.reason,
        { cause: err },
      );
    }
    let sha256: string | undefined;
    try {
      sha256 = sumFromChecksumFile(await readFile(file, "utf8"), checksums.format, asset.url);
    } catch (err) {
      throw new DownloadError(
        `${checksums.from} is not a checksum file: ${(err as Error).message}`,
        "checksum",
        {
          cause: err,
        },
      );
    }
    if (!sha256) {
      const name = new URL(asset.url).pathname.split("/").pop();
      throw new DownloadError(
        `no SHA-256 is pinned for it, and its release's checksum file ${checksums.from} lists no ${name}: refused`,
        "checksum",
      );
    }
    return { sha256, trust: "checksum-file", source: `from ${checksums.from}` };
  }

  private downloadOptions() {
    return {
      ...(this.opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.opts.idleTimeoutMs } : {}),
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    };
  }

  private async download(s: BinarySpec, asset: PinnedAsset): Promise<{ file: string; sum: ExpectedSum }> {
    const host = new URL(asset.from).host;
    const known = this.unreachable.get(host);
    if (known) throw known;
    this.emit({ kind: "download", name: s.name, version: s.version, url: asset.from });
    const sum = await this.expected(s, asset);
    const file = join(
      await this.workDir(),
      `${this.archives.size}-${asset.from.split("/").pop() ?? "archive"}`,
    );
    const started = Date.now();
    try {
      await download(asset.from, file, {
        ...this.downloadOptions(),
        sha256: sum.sha256,
        ...(sum.source !== undefined ? { sumSource: sum.source } : {}),
        onProgress: (bytes, total) =>
          this.emit({
            kind: "progress",
            name: s.name,
            version: s.version,
            bytes,
            total,
            elapsedMs: Date.now() - started,
          }),
      });
    } catch (err) {
      await rm(file, { force: true });
      if (err instanceof DownloadError && err.reason === "network") this.unreachable.set(host, err);
      throw err;
    }
    return { file, sum };
  }

  async cleanup(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

async function goBuild(s: BinarySpec, out: string, env: Env): Promise<void> {
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
  const dir = isAbsolute(s.toolDir) ? s.toolDir : `tools/${s.toolDir}`;
  const what = `${s.name} ${s.version} (module ${s.module}@${s.moduleVersion}, ${dir})`;
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
      const noGo = err.code === "ENOENT";
      const msg = noGo
        ? `building ${what}: no \`go\` on PATH; install Go 1.26 or later`
        : `building ${what}: ${err.message}`;
      reject(new BuildError(msg, s.name, s.module, "", { cause: err, noGo }));
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
