// `npm run binaries [-- NAME…] [--list] [--force] [--from auto|release|source]`: puts the pinned binaries into
// the cache, from their official release archives or built with Go.

import { BinaryError, checkMirror, ensureBinaries, FROM_CHOICES, type From } from "./build.ts";
import { binCacheDir, cachedBinaryPath, isExecutableFile } from "./cache.ts";
import { BINARY_NAMES, type BinaryName, CATALOG, isBinaryName } from "./catalog.ts";
import { progressPrinter } from "./progress.ts";
import { currentPlatform, MIRROR_ENV, pinnedAsset } from "./release.ts";

const USAGE = `usage: npm run binaries -- [--list] [--force] [--from auto|release|source] [NAME…]

Puts the pinned binaries into ${binCacheDir()}
(set THANOS_FLEET_CACHE to move it). NAME is one of: ${BINARY_NAMES.join(", ")}; default all.
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

function parseFrom(argv: string[]): { from: From; rest: string[] } | string {
  let from: From = "auto";
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value =
      a === "--from" ? argv[++i] : a.startsWith("--from=") ? a.slice("--from=".length) : undefined;
    if (value === undefined && a !== "--from") {
      rest.push(a);
      continue;
    }
    if (!FROM_CHOICES.includes(value as From)) {
      return `--from takes one of ${FROM_CHOICES.join(", ")}, not ${value === undefined ? "nothing" : JSON.stringify(value)}`;
    }
    from = value as From;
  }
  return { from, rest };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseFrom(argv);
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
  const names = args.length > 0 ? (args as BinaryName[]) : [...BINARY_NAMES];
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
