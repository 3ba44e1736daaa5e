// `npm run binaries [-- NAME…] [--for fleet|tests] [--list] [--force] [--from auto|release|source]`: puts the pinned
// binaries into the cache, from their official release archives or built with Go.

import { BinaryError, checkMirror, ensureBinaries, FROM_CHOICES, type From } from "./build.ts";
import { binCacheDir, cachedBinaryPath, isExecutableFile } from "./cache.ts";
import {
  BINARY_NAMES,
  BINARY_USE,
  type BinaryName,
  type BinaryUse,
  binariesFor,
  CATALOG,
  isBinaryName,
} from "./catalog.ts";
import { progressPrinter } from "./progress.ts";
import { currentPlatform, MIRROR_ENV, pinnedAsset } from "./release.ts";

const USAGE = `usage: npm run binaries -- [--list] [--force] [--from auto|release|source] [--for fleet|tests] [NAME…]

Puts the pinned binaries into ${binCacheDir()}
(set THANOS_FLEET_CACHE to move it). NAME is one of: ${BINARY_NAMES.join(", ")}; default all.
  --for fleet     the binaries the fleet runs: ${binariesFor("fleet").join(", ")} (npm run setup)
  --for tests     the binaries only the tests use: ${binariesFor("tests").join(", ")} (npm test, first)
  --from auto     the official release archive, checked against the SHA-256 pinned for this platform, else
                  against its release's checksum file (sha256sums.txt) at the first download, the sum then
                  recorded in the cache's sums.lock.json for later downloads; if it cannot be downloaded, a Go
                  build from source (default)
  --from release  release archives only: fail rather than build, and where neither a sum is pinned nor a
                  checksum file published
  --from source   Go builds only (Go 1.26 or later on PATH)
  --list          print each binary's version, cache path, whether it is there, and its release archive
  --force         download or rebuild even what the cache holds
Environment: ${MIRROR_ENV}=URL fetches each archive from URL + the official URL's path
(e.g. URL/prometheus/prometheus/releases/download/v3.14.0/prometheus-3.14.0.linux-amd64.tar.gz).`;

function list(names: readonly BinaryName[]): void {
  const platform = currentPlatform();
  const rows = names.map((n) => {
    const s = CATALOG[n];
    const path = cachedBinaryPath(s);
    const asset = pinnedAsset(n, platform);
    const release =
      "none" in asset
        ? `source only: ${asset.none}`
        : asset.sha256
          ? `${asset.from} (pinned sum)`
          : `${asset.from} (sum from ${asset.checksums?.from.split("/").pop()})`;
    return [n, s.version, isExecutableFile(path) ? "yes" : "no", path, release];
  });
  const table = [["NAME", "VERSION", "CACHED", "PATH", "RELEASE ARCHIVE"], ...rows];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i]?.length ?? 0)));
  for (const r of table) {
    console.log(r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  "));
  }
}

const USES: readonly BinaryUse[] = [...new Set(Object.values(BINARY_USE))];

interface Parsed {
  from: From;
  use?: BinaryUse;
  rest: string[];
}

/** `--from X`, `--from=X`, `--for X` and `--for=X`; the other arguments as they are. */
function parseOptions(argv: string[]): Parsed | string {
  const parsed: Parsed = { from: "auto", rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const flag = ["--from", "--for"].find((f) => a === f || a.startsWith(`${f}=`));
    if (!flag) {
      parsed.rest.push(a);
      continue;
    }
    const value = a === flag ? argv[++i] : a.slice(flag.length + 1);
    const choices: readonly string[] = flag === "--from" ? FROM_CHOICES : USES;
    if (value === undefined || !choices.includes(value)) {
      return `${flag} takes one of ${choices.join(", ")}, not ${value === undefined ? "nothing" : JSON.stringify(value)}`;
    }
    if (flag === "--from") parsed.from = value as From;
    else parsed.use = value as BinaryUse;
  }
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv);
  if (typeof parsed === "string") {
    console.error(`${parsed}\n${USAGE}`);
    return 2;
  }
  const flags = parsed.rest.filter((a) => a.startsWith("-"));
  const args = parsed.rest.filter((a) => !a.startsWith("-"));
  for (const f of flags) {
    if (f === "-h" || f === "--help") {
      console.log(USAGE);
      return 0;
    }
    if (f !== "--list" && f !== "--force") {
      console.error(`unknown option ${f}\n${USAGE}`);
      return 2;
    }
  }
  const unknown = args.filter((a) => !isBinaryName(a));
  if (unknown.length > 0) {
    console.error(`unknown binary ${unknown.join(", ")}; known: ${BINARY_NAMES.join(", ")}`);
    return 2;
  }
  try {
    checkMirror(process.env);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (parsed.use && args.length > 0) {
    console.error(`name binaries or give --for, not both\n${USAGE}`);
    return 2;
  }
  const names = parsed.use
    ? binariesFor(parsed.use)
    : args.length > 0
      ? (args as BinaryName[])
      : [...BINARY_NAMES];
  if (flags.includes("--list")) {
    list(names);
    return 0;
  }

  const tty = Boolean(process.stdout.isTTY);
  const started = Date.now();
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const results = await ensureBinaries(names, {
      onProgress: progressPrinter(process.stdout, tty),
      force: flags.includes("--force"),
      heartbeatMs: tty ? 1_000 : 30_000,
      from: parsed.from,
      signal: controller.signal,
    });
    const count = (status: string) => results.filter((r) => r.status === status).length;
    console.log(
      `${results.length} binaries ready (${count("downloaded")} downloaded, ${count("built")} built) ` +
        `in ${Math.round((Date.now() - started) / 1000)} s`,
    );
    return 0;
  } catch (err) {
    if (tty) process.stdout.write("\n");
    if (controller.signal.aborted) {
      console.error("interrupted: nothing half-written was left in the cache");
      return 130;
    }
    if (err instanceof BinaryError) {
      console.error(`\n${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

process.exitCode = await main(process.argv.slice(2));
