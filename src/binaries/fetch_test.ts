// Release downloads against a real HTTP server on loopback serving archives laid out like the release pages
// (made with tar, as promu and etcd's release scripts make them), from the binaries built here where the
// cache has them, else from small stand-in executables.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, join } from "node:path";
import { after, test } from "node:test";
import { tempDir } from "../../testing/tempdir.ts";
import { BinaryError, type BuildEvent, ensureBinaries, formatEvent } from "./build.ts";
import { cachedBinaryPath, isExecutableFile } from "./cache.ts";
import { type BinaryName, type BinarySpec, CATALOG } from "./catalog.ts";
import { lockFilePath } from "./lock.ts";
import { MIRROR_ENV, type Platform, RELEASES, type ReleaseTable } from "./release.ts";
import { readVersion } from "./resolve.ts";

const PLATFORM: Platform = "linux-amd64";

type Behaviour = "whole" | "cut-once" | "cut-once-no-range" | "cut-always" | "stall";

interface Served {
  body: Buffer;
  behaviour: Behaviour;
}

/** A loopback file server that records each request's path and Range header. */
async function releaseServer() {
  const files = new Map<string, Served>();
  const requests: { path: string; range: string | undefined }[] = [];
  const cut = new Set<string>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requests.push({ path, range: req.headers.range });
    const file = files.get(path);
    if (!file) {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found\n");
      return;
    }
    const { body, behaviour } = file;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ranged = m !== null && behaviour !== "cut-once-no-range";
    const start = ranged ? Number(m[1]) : 0;
    if (ranged) {
      res.writeHead(206, {
        "content-length": body.length - start,
        "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
    }
    const rest = body.subarray(start);
    const cutNow = behaviour === "cut-always" || (behaviour.startsWith("cut-once") && !cut.has(path));
    if (cutNow) {
      cut.add(path);
      // Half of what was asked for, then the connection drops: what a flaky network does.
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (behaviour === "stall") {
      res.write(rest.subarray(0, 1000));
      return; // and nothing more, ever
    }
    res.end(rest);
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { base, files, requests };
}

async function standIn(dir: string, name: BinaryName, versionLine: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\necho '${versionLine}'\n`);
  await chmod(path, 0o755);
  return path;
}

/** The binary built here if the cache has it, else a stand-in reporting the pinned version. */
async function binaryFor(name: BinaryName, dir: string): Promise<string> {
  const built = cachedBinaryPath(CATALOG[name], process.env);
  if (isExecutableFile(built)) return built;
  const lines: Partial<Record<BinaryName, string>> = {
    thanos: "thanos, version 0.42.4 (branch: v0.42.4, revision: stand-in)",
    prometheus: "prometheus, version 3.14.0 (branch: v3.14.0, revision: stand-in)",
    promtool: "promtool, version 3.14.0 (branch: v3.14.0, revision: stand-in)",
    alertmanager: "alertmanager, version 0.34.2 (branch: v0.34.2, revision: stand-in)",
    etcd: "etcd Version: 3.6.16",
    "kube-apiserver": "Kubernetes v1.36.3",
  };
  return standIn(dir, name, lines[name] ?? `${name} stand-in`);
}

/** `<dir>.tar.gz` holding `<dir>/<binary>…`, made with tar as the release tooling makes it. */
async function tarball(work: string, dir: string, binaries: Record<string, string>): Promise<Buffer> {
  await mkdir(join(work, dir), { recursive: true });
  for (const [name, from] of Object.entries(binaries)) await copyFile(from, join(work, dir, name));
  await writeFile(join(work, dir, "LICENSE"), "Apache License 2.0\n");
  const out = join(work, `${dir}.tar.gz`);
  // gzip -1: the binaries built here are large, and the level does not change the layout.
  execFileSync("tar", ["-I", "gzip -1", "-cf", out, "-C", work, dir]);
  return readFile(out);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** RELEASES with the given sums for PLATFORM, all other sums dropped. */
function pinned(sums: Partial<Record<BinaryName, string>>): ReleaseTable {
  const table: Record<string, unknown> = {};
  for (const [name, sum] of Object.entries(sums)) {
    const release = RELEASES[name as BinaryName];
    assert.ok(release, name);
    table[name] = { ...release, sha256: { [PLATFORM]: sum } };
  }
  return table as ReleaseTable;
}

function pathOf(name: BinaryName): string {
  const asset = RELEASES[name]?.asset(PLATFORM);
  assert.ok(asset);
  return new URL(asset.url).pathname;
}

async function sandbox(base: string, extraPath = "") {
  const root = await tempDir("tf-fetch-");
  const env = {
    ...process.env,
    PATH: [extraPath, process.env.PATH ?? ""].filter(Boolean).join(delimiter),
    THANOS_FLEET_CACHE: join(root, "cache"),
    [MIRROR_ENV]: base,
  };
  return { root, env };
}

/** Whatever the outcome, nothing but whole binaries may be left in the cache: no temporary file, no download. */
async function cacheEntries(env: { THANOS_FLEET_CACHE: string }): Promise<string[]> {
  const bin = join(env.THANOS_FLEET_CACHE, "bin");
  if (!existsSync(bin)) return [];
  return (await readdir(bin, { recursive: true })).sort();
}

test("success: prometheus and promtool from one archive, fetched once, verified, cached where Go builds go", async () => {
  const server = await releaseServer();
  const { root, env } = await sandbox(server.base);
  const prometheus = await binaryFor("prometheus", join(root, "standins"));
  const promtool = await binaryFor("promtool", join(root, "standins"));
  const archive = await tarball(join(root, "work"), "prometheus-3.14.0.linux-amd64", {
    prometheus,
    promtool,
  });
  server.files.set(pathOf("prometheus"), { body: archive, behaviour: "whole" });
  const sum = sha256(archive);

  const events: BuildEvent[] = [];
  const results = await ensureBinaries(["prometheus", "promtool"], {
    env,
    platform: PLATFORM,
    releases: pinned({ prometheus: sum, promtool: sum }),
    onProgress: (e) => events.push(e),
  });
  assert.deepEqual(
    results.map((r) => [r.name, r.status, r.path]),
    [
      ["prometheus", "downloaded", cachedBinaryPath(CATALOG.prometheus, env)],
      ["promtool", "downloaded", cachedBinaryPath(CATALOG.promtool, env)],
    ],
  );
  for (const [r, from] of [
    [results[0], prometheus],
    [results[1], promtool],
  ] as const) {
    assert.ok(
      (await readFile(r?.path ?? "")).equals(await readFile(from)),
      `${r?.name} is the archived binary`,
    );
    assert.match((await readVersion(r?.path ?? "", CATALOG[r?.name ?? "thanos"])) ?? "", /version 3\.14\.0/);
  }
  assert.equal(server.requests.length, 1, "the shared archive is downloaded once");
  const progress = events.filter((e) => e.kind === "progress");
  assert.ok(progress.length >= 2);
  assert.deepEqual(
    [progress.at(-1)?.bytes, progress.at(-1)?.total],
    [archive.length, archive.length],
    "progress ends at the whole size",
  );
  const lines = events.filter((e) => e.kind !== "progress").map(formatEvent);
  assert.equal(lines[0], `downloading prometheus v3.14.0 from ${server.base}${pathOf("prometheus")} …`);
  assert.match(
    lines[1] ?? "",
    new RegExp(`^prometheus v3\\.14\\.0 downloaded, SHA-256 ${sum.slice(0, 12)}… verified, in \\d+ s$`),
  );
  assert.match(lines[2] ?? "", /^promtool v3\.14\.0 downloaded/);
  assert.deepEqual(await cacheEntries(env), [
    "prometheus-v3.14.0",
    "prometheus-v3.14.0/prometheus",
    "promtool-v3.14.0",
    "promtool-v3.14.0/promtool",
  ]);

  // A second run finds both cached and asks the server for nothing.
  const again = await ensureBinaries(["prometheus", "promtool"], {
    env,
    platform: PLATFORM,
    releases: pinned({ prometheus: sum, promtool: sum }),
  });
  assert.deepEqual(
    again.map((r) => r.status),
    ["cached", "cached"],
  );
  assert.equal(server.requests.length, 1);
});

test("success: a bare binary (kube-apiserver's layout) and an etcd tarball", async () => {
  const server = await releaseServer();
  const { root, env } = await sandbox(server.base);
  const apiserver = await readFile(await binaryFor("kube-apiserver", join(root, "standins")));
  server.files.set(pathOf("kube-apiserver"), { body: apiserver, behaviour: "whole" });
  const etcd = await tarball(join(root, "work"), "etcd-v3.6.16-linux-amd64", {
    etcd: await binaryFor("etcd", join(root, "standins")),
  });
  server.files.set(pathOf("etcd"), { body: etcd, behaviour: "whole" });
  const results = await ensureBinaries(["kube-apiserver", "etcd"], {
    env,
    platform: PLATFORM,
    releases: pinned({ "kube-apiserver": sha256(apiserver), etcd: sha256(etcd) }),
  });
  assert.deepEqual(
    results.map((r) => r.status),
    ["downloaded", "downloaded"],
  );
  assert.ok((await readFile(results[0]?.path ?? "")).equals(apiserver));
  assert.equal(server.requests[0]?.path, "/release/v1.36.3/bin/linux/amd64/kube-apiserver");
});

let thanosTarball: Promise<{ body: Buffer; thanos: string }> | undefined;

/** A thanos archive on the server (made once per run: the binary built here is large), and its sum. */
async function thanosArchive(server: Awaited<ReturnType<typeof releaseServer>>, behaviour: Behaviour) {
  thanosTarball ??= (async () => {
    const root = await tempDir("tf-thanos-archive-");
    const thanos = await binaryFor("thanos", join(root, "standins"));
    return { body: await tarball(join(root, "work"), "thanos-0.42.4.linux-amd64", { thanos }), thanos };
  })();
  const { body, thanos } = await thanosTarball;
  server.files.set(pathOf("thanos"), { body, behaviour });
  return { body, sum: sha256(body), thanos };
}

test("wrong checksum: refused, nothing cached", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum } = await thanosArchive(server, "whole");
  const other = sum.replace(/^./, (c) => (c === "0" ? "1" : "0"));
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      releases: pinned({ thanos: other }),
    }),
    (err: Error) => {
      assert.ok(err instanceof BinaryError);
      assert.ok(
        err.message.includes(
          `SHA-256 of ${server.base}${pathOf("thanos")} is ${sum}, not the pinned ${other}: refused`,
        ),
        err.message,
      );
      assert.match(err.message, /--from source/);
      return true;
    },
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("an archive whose binary does not report the pinned version is refused", async () => {
  const server = await releaseServer();
  const { root, env } = await sandbox(server.base);
  const wrong = await standIn(join(root, "old"), "thanos", "thanos, version 0.37.0 (branch: x)");
  const body = await tarball(join(root, "work"), "thanos-0.42.4.linux-amd64", { thanos: wrong });
  server.files.set(pathOf("thanos"), { body, behaviour: "whole" });
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      releases: pinned({ thanos: sha256(body) }),
    }),
    /the archive's thanos does not report v0\.42\.4 here \(it says: thanos, version 0\.37\.0/,
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("an archive that lacks the binary is refused", async () => {
  const server = await releaseServer();
  const { root, env } = await sandbox(server.base);
  const body = await tarball(join(root, "work"), "thanos-0.42.4.linux-amd64", {});
  server.files.set(pathOf("thanos"), { body, behaviour: "whole" });
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      releases: pinned({ thanos: sha256(body) }),
    }),
    /thanos v0\.42\.4: download failed: .*holds no thanos-0\.42\.4\.linux-amd64\/thanos\./,
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("truncated download: resumed with Range where the server allows it", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { body, sum, thanos } = await thanosArchive(server, "cut-once");
  const [r] = await ensureBinaries(["thanos"], {
    env,
    platform: PLATFORM,
    releases: pinned({ thanos: sum }),
  });
  assert.equal(r?.status, "downloaded");
  assert.ok((await readFile(r?.path ?? "")).equals(await readFile(thanos)));
  // The second request asks for the rest from where the first one's bytes ended (no later than the cut: a
  // reset connection may lose what was in flight).
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[0]?.range, undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(server.requests[1]?.range ?? "")?.[1]);
  assert.ok(from > 0 && from <= Math.floor(body.length / 2), `resumed from ${from}`);
});

test("truncated download: restarted where the server ignores Range", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum, thanos } = await thanosArchive(server, "cut-once-no-range");
  const [r] = await ensureBinaries(["thanos"], {
    env,
    platform: PLATFORM,
    releases: pinned({ thanos: sum }),
  });
  assert.equal(r?.status, "downloaded");
  assert.ok((await readFile(r?.path ?? "")).equals(await readFile(thanos)));
  assert.equal(server.requests.length, 2);
});

test("truncated download: cut every time, it gives up and caches nothing half", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum } = await thanosArchive(server, "cut-always");
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      releases: pinned({ thanos: sum }),
    }),
    /127\.0\.0\.1:\d+ cut the connection 5 times \(\d+ of \d+ bytes received\)/,
  );
  assert.equal(server.requests.length, 5);
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("404: the error names the URL and the status", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      releases: pinned({ thanos: "0".repeat(64) }),
    }),
    (err: Error) => {
      assert.equal(
        err.message.split(". ")[0],
        `thanos v0.42.4: download failed: ${server.base}${pathOf("thanos")} answered HTTP 404 Not Found`,
      );
      return true;
    },
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("slow server: a download that goes silent times out with a message saying so", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  // Larger than the 1000 bytes the server sends before it goes silent.
  const body = randomBytes(1 << 20);
  server.files.set(pathOf("thanos"), { body, behaviour: "stall" });
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      from: "release",
      idleTimeoutMs: 300,
      releases: pinned({ thanos: sha256(body) }),
    }),
    /thanos v0\.42\.4: download failed: 127\.0\.0\.1:\d+ sent nothing for 300 ms \(1000 of \d+ bytes received\)/,
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

test("an interrupted download stops at once, falls back to nothing and caches nothing", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const body = randomBytes(1 << 20);
  server.files.set(pathOf("thanos"), { body, behaviour: "stall" });
  const controller = new AbortController();
  const events: BuildEvent[] = [];
  const run = ensureBinaries(["thanos"], {
    env,
    platform: PLATFORM,
    releases: pinned({ thanos: sha256(body) }),
    signal: controller.signal,
    onProgress: (e) => {
      events.push(e);
      if (e.kind === "progress" && e.bytes > 0) controller.abort(new Error("interrupted"));
    },
  });
  await assert.rejects(run, /interrupted/);
  assert.ok(!events.some((e) => e.kind === "fallback" || e.kind === "start"), "no Go build after Ctrl-C");
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"]);
});

/** A tiny Go module standing in for thanos: the fallback path runs a real `go build` of it. */
async function goStandIn(root: string): Promise<BinarySpec> {
  const dir = join(root, "standin-module");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "go.mod"), "module example.com/standin\n\ngo 1.22\n");
  await writeFile(
    join(dir, "main.go"),
    'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("thanos, version 0.42.4 (built by go from a stand-in module)") }\n',
  );
  return { ...CATALOG.thanos, toolDir: dir, pkg: "example.com/standin", tags: [], ldflagsX: [] };
}

function hasGo(): boolean {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test(
  "fallback: a refused host is said in one line, then Go builds the binary",
  { skip: hasGo() ? false : "no go on PATH" },
  async () => {
    // The mirror is a loopback port on which nothing listens: the connection is refused.
    const { root, env } = await sandbox(await closedPort());
    const events: BuildEvent[] = [];
    const [r] = await ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      releases: pinned({ thanos: "0".repeat(64) }),
      specs: { thanos: await goStandIn(root) },
      heartbeatMs: 0,
      onProgress: (e) => events.push(e),
    });
    assert.equal(r?.status, "built");
    assert.match((await readVersion(r?.path ?? "", CATALOG.thanos)) ?? "", /stand-in module/);
    const lines = events.map(formatEvent);
    assert.equal(lines[0]?.startsWith("downloading thanos v0.42.4 from http://127.0.0.1:"), true, lines[0]);
    assert.match(
      lines[1] ?? "",
      /^thanos v0\.42\.4: download failed: cannot reach 127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\); building from source with Go$/,
    );
    assert.equal(lines[2], "building thanos v0.42.4 …");
    assert.match(lines[3] ?? "", /^thanos v0\.42\.4 built in \d+ s$/);
    assert.equal(lines.length, 4);
  },
);

/** A loopback URL on which nothing listens: a server's port after the server has closed. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return `http://127.0.0.1:${port}`;
}

test("fallback after a 404 and after no pinned sum; neither network nor Go names every way to get the binary", async () => {
  const server = await releaseServer();
  const root = await tempDir("tf-nogo-");
  const env = {
    PATH: join(root, "empty"),
    THANOS_FLEET_CACHE: join(root, "cache"),
    [MIRROR_ENV]: server.base,
  };
  const events: BuildEvent[] = [];
  await assert.rejects(
    ensureBinaries(["thanos"], {
      env,
      platform: PLATFORM,
      releases: pinned({ thanos: "0".repeat(64) }),
      onProgress: (e) => events.push(e),
    }),
    (err: Error) => {
      assert.ok(err instanceof BinaryError);
      const text = err.message;
      assert.ok(text.startsWith("thanos v0.42.4 cannot be had on this machine:\n"), text);
      assert.ok(
        text.includes(`  - download failed: ${server.base}${pathOf("thanos")} answered HTTP 404 Not Found\n`),
        text,
      );
      assert.ok(text.includes("  - and there is no `go` on PATH to build it\n"), text);
      assert.ok(text.includes(`set ${MIRROR_ENV} to a mirror that serves ${pathOf("thanos")}`), text);
      assert.ok(text.includes("install Go 1.26 or later"), text);
      assert.ok(text.includes("`binaries: { thanos: /path/to/thanos }` in fleet.yaml"), text);
      return true;
    },
  );
  assert.equal(
    formatEvent(events.find((e) => e.kind === "fallback") as BuildEvent),
    `thanos v0.42.4: download failed: ${server.base}${pathOf("thanos")} answered HTTP 404 Not Found; building from source with Go`,
  );

  // Without a pinned sum there is nothing to download: the fallback says so, and the ways left are Go and a path.
  const none: string[] = [];
  await assert.rejects(
    ensureBinaries(["alertmanager"], {
      env,
      platform: PLATFORM,
      releases: {},
      onProgress: (e) => none.push(formatEvent(e)),
    }),
    (err: Error) => {
      assert.ok(!err.message.includes(MIRROR_ENV), err.message);
      assert.ok(err.message.includes("binaries: { alertmanager: /path/to/alertmanager }"), err.message);
      return true;
    },
  );
  assert.equal(
    none[0],
    "alertmanager v0.34.2: it has no official release archive; building from source with Go",
  );
  assert.deepEqual(server.requests.length, 1, "nothing asked for alertmanager");
  assert.deepEqual(await cacheEntries(env), ["alertmanager-v0.34.2", "thanos-v0.42.4"]);
});

test("a mirror that is not an http(s) URL is refused before anything is fetched", async () => {
  const root = await tempDir("tf-mirror-");
  await assert.rejects(
    ensureBinaries(["thanos"], { env: { THANOS_FLEET_CACHE: root, [MIRROR_ENV]: "mirror.internal/tools" } }),
    /THANOS_FLEET_RELEASE_MIRROR=mirror\.internal\/tools is not an http:\/\/ or https:\/\/ URL/,
  );
  assert.deepEqual(await readdir(root), []);
});

/** RELEASES without any pinned sum: each archive is checked against its release's checksum file. */
function unpinned(...names: BinaryName[]): ReleaseTable {
  const table: Record<string, unknown> = {};
  for (const name of names) table[name] = { ...RELEASES[name], sha256: {} };
  return table as ReleaseTable;
}

/** The checksum file promu writes (`sha256sum` lines), at its official path. */
function sumsPath(name: BinaryName): string {
  const sums = RELEASES[name]?.checksums?.(PLATFORM);
  assert.ok(sums);
  return new URL(sums.url).pathname;
}

function sumsFile(entries: Record<string, string>): Buffer {
  return Buffer.from(
    Object.entries(entries)
      .map(([file, sum]) => `${sum}  ${file}\n`)
      .join(""),
  );
}

test("checksum file: an archive with no pinned sum is checked against its release's sha256sums.txt, the sum recorded, later downloads checked against it", async () => {
  const server = await releaseServer();
  const { root, env } = await sandbox(server.base);
  const alertmanager = await tarball(join(root, "work"), "alertmanager-0.34.2.linux-amd64", {
    alertmanager: await binaryFor("alertmanager", join(root, "standins")),
  });
  server.files.set(pathOf("alertmanager"), { body: alertmanager, behaviour: "whole" });
  server.files.set(sumsPath("alertmanager"), {
    body: sumsFile({
      "alertmanager-0.34.2.darwin-arm64.tar.gz": "1".repeat(64),
      "alertmanager-0.34.2.linux-amd64.tar.gz": sha256(alertmanager),
    }),
    behaviour: "whole",
  });
  const events: BuildEvent[] = [];
  const [r] = await ensureBinaries(["alertmanager"], {
    env,
    platform: PLATFORM,
    releases: unpinned("alertmanager"),
    from: "release",
    onProgress: (e) => events.push(e),
  });
  assert.equal(r?.status, "downloaded");
  assert.deepEqual(
    server.requests.map((q) => q.path),
    [sumsPath("alertmanager"), pathOf("alertmanager")],
  );
  assert.match(
    formatEvent(events.find((e) => e.kind === "downloaded") as BuildEvent),
    new RegExp(
      `^alertmanager v0\\.34\\.2 downloaded, SHA-256 ${sha256(alertmanager).slice(0, 12)}… verified against the release's checksum file \\(recorded: later downloads must match it\\), in \\d+ s$`,
    ),
  );
  const lock = JSON.parse(await readFile(lockFilePath(env), "utf8"));
  const official = RELEASES.alertmanager?.asset(PLATFORM)?.url ?? "";
  assert.equal(lock.archives[official].sha256, sha256(alertmanager));
  assert.equal(lock.archives[official].from, `https://github.com${sumsPath("alertmanager")}`);

  // Later, on this machine: the recorded sum is used, the checksum file is not asked for again.
  server.requests.length = 0;
  const later: BuildEvent[] = [];
  const [again] = await ensureBinaries(["alertmanager"], {
    env,
    platform: PLATFORM,
    releases: unpinned("alertmanager"),
    from: "release",
    force: true,
    onProgress: (e) => later.push(e),
  });
  assert.equal(again?.status, "downloaded");
  assert.deepEqual(
    server.requests.map((q) => q.path),
    [pathOf("alertmanager")],
  );
  assert.match(
    formatEvent(later.find((e) => e.kind === "downloaded") as BuildEvent),
    / verified against the sum recorded at its first download, in \d+ s$/,
  );
});

test("checksum file: a pinned sum wins over the checksum file, which is not even asked for", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum } = await thanosArchive(server, "whole");
  server.files.set(sumsPath("thanos"), {
    body: sumsFile({ "thanos-0.42.4.linux-amd64.tar.gz": "2".repeat(64) }),
    behaviour: "whole",
  });
  const [r] = await ensureBinaries(["thanos"], {
    env,
    platform: PLATFORM,
    releases: pinned({ thanos: sum }),
    from: "release",
  });
  assert.equal(r?.status, "downloaded");
  assert.deepEqual(
    server.requests.map((q) => q.path),
    [pathOf("thanos")],
  );
  assert.equal(existsSync(lockFilePath(env)), false, "a pinned sum is not recorded");
});

test("checksum file: an archive that does not match it is refused, nothing cached or recorded", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum } = await thanosArchive(server, "whole");
  const listed = "3".repeat(64);
  server.files.set(sumsPath("thanos"), {
    body: sumsFile({ "thanos-0.42.4.linux-amd64.tar.gz": listed }),
    behaviour: "whole",
  });
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: unpinned("thanos"), from: "release" }),
    (err: Error) => {
      assert.ok(err instanceof BinaryError);
      assert.ok(
        err.message.includes(
          `SHA-256 of ${server.base}${pathOf("thanos")} is ${sum}, not ${listed} from ${server.base}${sumsPath("thanos")}: refused`,
        ),
        err.message,
      );
      return true;
    },
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"], "an empty directory, no binary");
});

test("checksum file: a missing one is refused with --from release, naming the file; nothing cached", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  await thanosArchive(server, "whole");
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: unpinned("thanos"), from: "release" }),
    (err: Error) => {
      assert.ok(err instanceof BinaryError);
      assert.equal(
        err.message.split(". Run with")[0],
        `thanos v0.42.4: download failed: no SHA-256 is pinned for it, and its release's checksum file could not be had: ${server.base}${sumsPath("thanos")} answered HTTP 404 Not Found`,
      );
      return true;
    },
  );
  assert.deepEqual(
    server.requests.map((q) => q.path),
    [sumsPath("thanos")],
    "the archive is not downloaded without a sum to check it against",
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"], "an empty directory, no binary");
  // A release with neither a pinned sum nor a checksum file: nothing to ask for.
  const bare = { thanos: { ...(RELEASES.thanos as NonNullable<typeof RELEASES.thanos>), sha256: {} } };
  delete (bare.thanos as { checksums?: unknown }).checksums;
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: bare, from: "release" }),
    /^BinaryError: thanos v0\.42\.4: no SHA-256 is pinned for its linux-amd64 release archive, and its release has no checksum file\. Run with --from source/,
  );
});

test("checksum file: one that lists other names is refused, and so is one that is no checksum file", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  await thanosArchive(server, "whole");
  server.files.set(sumsPath("thanos"), {
    body: sumsFile({
      "thanos-0.42.4.linux-arm64.tar.gz": "4".repeat(64),
      "thanos-0.42.4.darwin-amd64.tar.gz": "5".repeat(64),
    }),
    behaviour: "whole",
  });
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: unpinned("thanos"), from: "release" }),
    new RegExp(
      `no SHA-256 is pinned for it, and its release's checksum file ${server.base}${sumsPath("thanos")} lists no thanos-0\\.42\\.4\\.linux-amd64\\.tar\\.gz: refused`,
    ),
  );
  server.files.set(sumsPath("thanos"), { body: Buffer.from("<html>Moved</html>\n"), behaviour: "whole" });
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: unpinned("thanos"), from: "release" }),
    /sha256sums\.txt is not a checksum file: line 1 is not "<sha256> {2}<file>"/,
  );
  assert.deepEqual(await cacheEntries(env), ["thanos-v0.42.4"], "an empty directory, no binary");
});

test("checksum file: a recorded sum that a later download does not match is refused, saying where it was recorded", async () => {
  const server = await releaseServer();
  const { env } = await sandbox(server.base);
  const { sum } = await thanosArchive(server, "whole");
  const official = RELEASES.thanos?.asset(PLATFORM)?.url ?? "";
  const recorded = "6".repeat(64);
  await mkdir(join(env.THANOS_FLEET_CACHE, "bin"), { recursive: true });
  await writeFile(
    lockFilePath(env),
    JSON.stringify({
      version: 1,
      archives: {
        [official]: {
          sha256: recorded,
          from: "https://github.com/thanos-io/thanos/releases/download/v0.42.4/sha256sums.txt",
          recordedAt: "2026-11-01T10:00:00.000Z",
        },
      },
    }),
  );
  // The checksum file now agrees with the archive: the recorded sum still wins.
  server.files.set(sumsPath("thanos"), {
    body: sumsFile({ "thanos-0.42.4.linux-amd64.tar.gz": sum }),
    behaviour: "whole",
  });
  await assert.rejects(
    ensureBinaries(["thanos"], { env, platform: PLATFORM, releases: unpinned("thanos"), from: "release" }),
    (err: Error) => {
      assert.ok(
        err.message.includes(
          `is ${sum}, not ${recorded} recorded in ${lockFilePath(env)} at its first download (2026-11-01T10:00:00.000Z, from https://github.com/thanos-io/thanos/releases/download/v0.42.4/sha256sums.txt); if upstream really published new bytes, delete that entry: refused`,
        ),
        err.message,
      );
      return true;
    },
  );
  assert.deepEqual(
    server.requests.map((q) => q.path),
    [pathOf("thanos")],
  );
  assert.equal(JSON.parse(await readFile(lockFilePath(env), "utf8")).archives[official].sha256, recorded);
  assert.deepEqual(await cacheEntries(env), ["sums.lock.json", "thanos-v0.42.4"]);
});
