import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { tempDir } from "../../testing/tempdir.ts";
import { BuildError, type BuildEvent, ensureBinaries, formatEvent } from "./build.ts";
import { buildTimesPath, cachedBinaryPath } from "./cache.ts";
import { CATALOG, toolModuleDir } from "./catalog.ts";

// A stand-in `go` on PATH: logs how it was called, then runs the given shell body.
async function fakeGo(body: string) {
  const root = await tempDir("tf-build-");
  const bin = join(root, "bin");
  await mkdir(bin);
  const log = join(root, "go.log");
  await writeFile(
    join(bin, "go"),
    `#!/bin/sh
echo "cwd=$(pwd) cgo=$CGO_ENABLED gowork=$GOWORK args=$*" >> '${log}'
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
${body}
`,
  );
  await chmod(join(bin, "go"), 0o755);
  const env = {
    PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`,
    THANOS_FLEET_CACHE: join(root, "cache"),
  };
  return { env, log, root };
}

const WRITE_BINARY = `printf '#!/bin/sh\\necho built\\n' > "$out"; chmod +x "$out"`;

test("builds what is missing in the tool module, then reports it cached", async () => {
  const { env, log } = await fakeGo(WRITE_BINARY);
  const events: BuildEvent[] = [];
  const first = await ensureBinaries(["thanos"], {
    env,
    from: "source",
    onProgress: (e) => events.push(e),
    heartbeatMs: 0,
  });
  const path = cachedBinaryPath(CATALOG.thanos, env);
  assert.deepEqual(
    first.map((r) => [r.name, r.status, r.path]),
    [["thanos", "built", path]],
  );
  assert.equal(await readFile(path, "utf8"), "#!/bin/sh\necho built\n");
  const call = await readFile(log, "utf8");
  assert.ok(call.startsWith(`cwd=${toolModuleDir(CATALOG.thanos)} cgo=0 gowork= args=build -trimpath`), call);
  assert.ok(call.includes("-tags netgo,slicelabels github.com/thanos-io/thanos/cmd/thanos"), call);
  assert.deepEqual(
    events.map((e) => e.kind),
    ["start", "built"],
  );
  assert.equal(formatEvent(events[0] as BuildEvent), "building thanos v0.42.4 …");
  assert.match(formatEvent(events[1] as BuildEvent), /^thanos v0\.42\.4 built in \d+ s$/);

  const again: string[] = [];
  const second = await ensureBinaries(["thanos", "thanos"], {
    env,
    onProgress: (e) => again.push(formatEvent(e)),
  });
  assert.deepEqual(again, ["thanos v0.42.4 cached"]);
  assert.equal(second[0]?.status, "cached");
  assert.equal((await readFile(log, "utf8")).split("\n").filter(Boolean).length, 1, "go ran once");

  await ensureBinaries(["thanos"], { env, from: "source", force: true, heartbeatMs: 0 });
  assert.equal((await readFile(log, "utf8")).split("\n").filter(Boolean).length, 2, "force rebuilds");
});

test("a long build reports heartbeats", async () => {
  const { env } = await fakeGo(`sleep 0.5; ${WRITE_BINARY}`);
  const events: BuildEvent[] = [];
  await ensureBinaries(["etcd"], {
    env,
    from: "source",
    onProgress: (e) => events.push(e),
    heartbeatMs: 100,
  });
  const beats = events.filter((e) => e.kind === "heartbeat");
  assert.ok(beats.length >= 2, `heartbeats: ${beats.length}`);
  assert.match(formatEvent(beats[0] as BuildEvent), /^still building etcd v3\.6\.16 \(\d+ s\)$/);
});

test("a failed build names the module, carries the last 30 lines of Go's output, leaves no file", async () => {
  const { env, root } = await fakeGo(
    `i=1; while [ $i -le 40 ]; do echo "go: line $i" >&2; i=$((i+1)); done; exit 1`,
  );
  await assert.rejects(
    ensureBinaries(["prometheus", "weed"], { env, from: "source", heartbeatMs: 0 }),
    (err: unknown) => {
      assert.ok(err instanceof BuildError);
      assert.equal(err.binary, "prometheus");
      assert.match(
        err.message,
        /^building prometheus v3\.14\.0 \(module github\.com\/prometheus\/prometheus@v0\.314\.0,/,
      );
      assert.match(err.message, /go build exited with code 1/);
      assert.ok(err.tail.startsWith("go: line 11\n") && err.tail.endsWith("go: line 40"), err.tail);
      return true;
    },
  );
  assert.deepEqual(await readdir(join(root, "cache", "bin", "prometheus-v3.14.0")), []);
});

test("no go on PATH says so", async () => {
  const root = await tempDir("tf-nogo-");
  const env = { PATH: join(root, "empty"), THANOS_FLEET_CACHE: join(root, "cache") };
  await assert.rejects(
    ensureBinaries(["promtool"], { env, from: "source", heartbeatMs: 0 }),
    /no `go` on PATH/,
  );
});

test("a module that lacks generated files is built from a copy of its source with them added", async () => {
  const upstream = await tempDir("tf-upstream-");
  await mkdir(join(upstream, "ui"));
  await writeFile(join(upstream, "ui", "web.go"), "package ui\n");
  await chmod(join(upstream, "ui", "web.go"), 0o444);
  await chmod(join(upstream, "ui"), 0o555);
  const { env, log, root } = await fakeGo(
    `if [ "$1" = mod ]; then echo '{"Dir": "${upstream}"}'; exit 0; fi; ${WRITE_BINARY}`,
  );
  await ensureBinaries(["alertmanager"], { env, from: "source", heartbeatMs: 0 });
  const copy = join(root, "cache", "src", "alertmanager-v0.34.2");
  const calls = (await readFile(log, "utf8")).trim().split("\n");
  assert.equal(calls.length, 2);
  assert.ok(
    calls[0]?.startsWith(
      `cwd=${toolModuleDir(CATALOG.alertmanager)} cgo=0 gowork= args=mod download -json github.com/prometheus/alertmanager@v0.34.2`,
    ),
    calls[0],
  );
  assert.ok(calls[1]?.startsWith(`cwd=${copy} cgo=0 gowork=off args=build`), calls[1]);
  assert.deepEqual((await readdir(join(copy, "ui"), { recursive: true })).sort(), [
    "app",
    "app/dist",
    "app/dist/index.html.br",
    "app/dist/index.html.gz",
    "web.go",
  ]);
  const page = gunzipSync(await readFile(join(copy, "ui", "app", "dist", "index.html.gz"))).toString();
  assert.match(page, /without its web UI/);

  // A second (forced) build starts from a fresh copy although the first left it read-only upstream.
  await ensureBinaries(["alertmanager"], { env, from: "source", heartbeatMs: 0, force: true });
});

test("a build's ETA comes from its last recorded duration here, and each build records its own", async () => {
  const { env } = await fakeGo(`sleep 0.5; ${WRITE_BINARY}`);
  const events: BuildEvent[] = [];
  await ensureBinaries(["etcd"], { env, from: "source", onProgress: (e) => events.push(e), heartbeatMs: 0 });
  assert.equal(
    formatEvent(events[0] as BuildEvent),
    "building etcd v3.6.16 …",
    "no ETA before a first build",
  );
  const recorded = JSON.parse(await readFile(buildTimesPath(env), "utf8"));
  assert.equal(typeof recorded["etcd-v3.6.16"], "number");

  await writeFile(buildTimesPath(env), JSON.stringify({ "etcd-v3.6.16": 600 }));
  const again: BuildEvent[] = [];
  await ensureBinaries(["etcd"], {
    env,
    from: "source",
    force: true,
    onProgress: (e) => again.push(e),
    heartbeatMs: 100,
  });
  assert.equal(
    formatEvent(again[0] as BuildEvent),
    "building etcd v3.6.16 … (its last build here took 600 s)",
  );
  const beat = again.find((e) => e.kind === "heartbeat") as BuildEvent;
  assert.match(formatEvent(beat), /^still building etcd v3\.6\.16 \(\d+ s, ETA \d+ s\)$/);
  assert.notEqual(JSON.parse(await readFile(buildTimesPath(env), "utf8"))["etcd-v3.6.16"], 600);
});

test("Go builds run two at a time; a failed one lets the other finish and is the error", async () => {
  const { env, root } = await fakeGo(
    // The failing build fails at once and the others take a second: a slow machine cannot let one finish first.
    `echo "start $out" >> "$ORDER"; case "$out" in *prometheus*) echo "end fail" >> "$ORDER"; exit 1;; esac; sleep 1; echo "end" >> "$ORDER"; ${WRITE_BINARY}`,
  );
  const order = join(root, "order");
  const withOrder = { ...env, ORDER: order };
  await ensureBinaries(["thanos", "etcd"], { env: withOrder, from: "source", heartbeatMs: 0 });
  const steps = async () =>
    (await readFile(order, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[0]);
  assert.deepEqual(await steps(), ["start", "start", "end", "end"], "both builds ran at once");

  await writeFile(order, "");
  await ensureBinaries(["thanos", "etcd"], {
    env: withOrder,
    from: "source",
    force: true,
    heartbeatMs: 0,
    parallelBuilds: 1,
  });
  assert.deepEqual(await steps(), ["start", "end", "start", "end"]);

  await writeFile(order, "");
  await assert.rejects(
    ensureBinaries(["prometheus", "weed", "alertmanager"], {
      env: withOrder,
      from: "source",
      heartbeatMs: 0,
    }),
    (err: unknown) => err instanceof BuildError && err.binary === "prometheus",
  );
  const lines = (await readFile(order, "utf8")).trim().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("start")).length, 2, "no build starts after a failure");
  assert.deepEqual(await readdir(join(root, "cache", "bin", "weed-4.53")), ["weed"], "weed finished");
});
