// `npm run binaries [-- NAME…] [--list] [--force]`: builds the pinned binaries into the cache.

import { BuildError, type BuildEvent, ensureBinaries, formatEvent } from "./build.ts";
import { binCacheDir, cachedBinaryPath, isExecutableFile } from "./cache.ts";
import { BINARY_NAMES, type BinaryName, CATALOG, isBinaryName } from "./catalog.ts";

const USAGE = `usage: npm run binaries -- [--list] [--force] [NAME…]

Builds the pinned binaries with Go into ${binCacheDir()}
(set THANOS_FLEET_CACHE to move it). NAME is one of: ${BINARY_NAMES.join(", ")}; default all.
  --list   print each binary's version, cache path and whether it is built
  --force  rebuild even what the cache holds`;

function list(names: readonly BinaryName[]): void {
  const rows = names.map((n) => {
    const s = CATALOG[n];
    const path = cachedBinaryPath(s);
    return [n, s.version, isExecutableFile(path) ? "yes" : "no", path];
  });
  const table = [["NAME", "VERSION", "BUILT", "PATH"], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => r[i]?.length ?? 0)));
  for (const r of table) {
    console.log(r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  "));
  }
}

function progressPrinter(): (e: BuildEvent) => void {
  if (!process.stdout.isTTY) return (e) => console.log(formatEvent(e));
  // On a terminal the heartbeat rewrites the "building" line instead of adding lines.
  return (e) => {
    if (e.kind === "heartbeat") {
      process.stdout.write(`\r\x1b[2Kbuilding ${e.name} ${e.version} … ${e.seconds} s`);
    } else if (e.kind === "start") {
      process.stdout.write(formatEvent(e));
    } else {
      process.stdout.write(`\r\x1b[2K${formatEvent(e)}\n`);
    }
  };
}

async function main(argv: string[]): Promise<number> {
  const flags = argv.filter((a) => a.startsWith("-"));
  const args = argv.filter((a) => !a.startsWith("-"));
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
  const names = args.length > 0 ? (args as BinaryName[]) : [...BINARY_NAMES];
  if (flags.includes("--list")) {
    list(names);
    return 0;
  }

  const tty = Boolean(process.stdout.isTTY);
  const started = Date.now();
  try {
    const results = await ensureBinaries(names, {
      onProgress: progressPrinter(),
      force: flags.includes("--force"),
      heartbeatMs: tty ? 1_000 : 30_000,
    });
    const built = results.filter((r) => r.status === "built").length;
    console.log(
      `${results.length} binaries ready (${built} built) in ${Math.round((Date.now() - started) / 1000)} s`,
    );
    return 0;
  } catch (err) {
    if (tty) process.stdout.write("\n");
    if (err instanceof BuildError) {
      console.error(`\n${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
