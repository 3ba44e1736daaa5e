// What a user with internet access gets from `npm run binaries`: the local fleet's binaries downloaded from
// release archives, verified and unpacked into an empty cache. The archives are made here, laid out as on the
// release pages, from the binaries built here, and served by a loopback mirror (THANOS_FLEET_RELEASE_MIRROR) with
// a sha256sums.txt beside them, as promu publishes it: no sum is pinned, so each archive is checked against its
// release's checksum file, as thanos and alertmanager are on a user's machine. The official archives cannot be
// fetched on this machine.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { ensureBinaries } from "../src/binaries/build.ts";
import { cachedBinaryPath, isExecutableFile } from "../src/binaries/cache.ts";
import { type BinaryName, CATALOG } from "../src/binaries/catalog.ts";
import { currentPlatform, MIRROR_ENV, RELEASES, type ReleaseTable } from "../src/binaries/release.ts";
import type { Benchmark, Figure } from "./benchmark.ts";

const NAMES: BinaryName[] = ["thanos", "prometheus", "promtool", "alertmanager"];

let mirror: { dir: string; server: Server; base: string; table: ReleaseTable; bytes: number } | undefined;

async function prepare(): Promise<void> {
  const platform = currentPlatform();
  if (!platform) throw new Error(`no release archives for ${process.platform}/${process.arch}`);
  const missing = NAMES.filter((n) => !isExecutableFile(cachedBinaryPath(CATALOG[n])));
  if (missing.length > 0)
    throw new Error(`not in the cache: ${missing.join(", ")}; run npm run binaries first`);
  const dir = await mkdtemp(join(tmpdir(), "fleet-bench-mirror-"));
  const work = join(dir, "work");
  // One archive per URL (prometheus and promtool share one), holding its binaries as on the release page.
  const archives = new Map<string, BinaryName[]>();
  for (const name of NAMES) {
    const url = RELEASES[name]?.asset(platform)?.url;
    if (!url) throw new Error(`${name}: no release archive layout for ${platform}`);
    archives.set(url, [...(archives.get(url) ?? []), name]);
  }
  const table: Record<string, unknown> = {};
  const sums = new Map<string, string[]>();
  let bytes = 0;
  for (const [url, names] of archives) {
    const file = join(dir, new URL(url).pathname);
    let top = "";
    for (const name of names) {
      const member = RELEASES[name]?.asset(platform)?.member ?? "";
      top = dirname(member);
      await mkdir(join(work, top), { recursive: true });
      await copyFile(cachedBinaryPath(CATALOG[name]), join(work, member));
    }
    await mkdir(dirname(file), { recursive: true });
    execFileSync("tar", ["-czf", file, "-C", work, top]);
    const sum = createHash("sha256")
      .update(await readFile(file))
      .digest("hex");
    bytes += (await stat(file)).size;
    for (const name of names) {
      table[name] = { ...RELEASES[name], sha256: {} };
      const sumsUrl = RELEASES[name]?.checksums?.(platform)?.url;
      if (!sumsUrl) throw new Error(`${name}: its release has no checksum file`);
      const line = `${sum}  ${basename(file)}\n`;
      if (!sums.get(sumsUrl)?.includes(line)) sums.set(sumsUrl, [...(sums.get(sumsUrl) ?? []), line]);
    }
  }
  for (const [url, lines] of sums) await writeFile(join(dir, new URL(url).pathname), lines.join(""));
  await rm(join(dir, "work"), { recursive: true, force: true });
  const server = createServer((req, res) => {
    const file = join(dir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    stat(file).then(
      (s) => {
        res.writeHead(200, { "content-length": s.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // The mirror lives as long as the benchmark runs, and does not keep the process alive after them.
  server.unref();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  mirror = { dir, server, base, table: table as ReleaseTable, bytes };
  process.stdout.write(
    `  mirror ${base}: ${[...archives.keys()].map((u) => basename(u)).join(", ")} (${(bytes / 1e6).toFixed(1)} MB)\n`,
  );
}

async function run(): Promise<Figure[]> {
  if (!mirror) throw new Error("prepare did not run");
  const cache = await mkdtemp(join(tmpdir(), "fleet-bench-cache-"));
  try {
    const t0 = performance.now();
    const results = await ensureBinaries(NAMES, {
      env: { ...process.env, THANOS_FLEET_CACHE: cache, [MIRROR_ENV]: mirror.base },
      releases: mirror.table,
      from: "release",
    });
    const seconds = (performance.now() - t0) / 1000;
    if (!results.every((r) => r.status === "downloaded")) throw new Error("not every binary was downloaded");
    return [
      { name: "binaries from a loopback mirror into an empty cache", value: seconds, unit: "s", target: 60 },
      { name: "archives downloaded", value: mirror.bytes / 2 ** 20, unit: "MiB" },
    ];
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: "binaries",
  description: `${NAMES.join(", ")}: download, SHA-256 check against sha256sums.txt and unpack from release archives on a loopback mirror`,
  runs: 3,
  prepare,
  run,
};

process.once("beforeExit", () => {
  if (!mirror) return;
  mirror.server.close();
  void rm(mirror.dir, { recursive: true, force: true });
});
