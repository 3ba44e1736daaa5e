// Bad input on the command line: refused before anything is created, exit 2, file:line, the field and the fix.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-inputs-"));
after(() => rm(dir, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, "..", "cli.ts");
const CLUSTERS =
  "clusters:\n  - {name: mgmt, role: observer}\n  - {name: biz1, role: workload}\n  - {name: minio, role: storage}\n";

let n = 0;
/** Runs the CLI on a fleet.yaml of its own with a fresh --state-dir (and --out for render) that must stay absent. */
async function run(verb: string, yaml: string | Buffer, ...extra: string[]) {
  const home = join(dir, `case-${n++}`);
  await mkdir(home);
  const file = join(home, "fleet.yaml");
  await writeFile(file, yaml);
  const state = join(home, "state");
  const out = join(home, "out");
  const args = [
    verb,
    "-c",
    file,
    "--state-dir",
    state,
    ...(verb === "render" ? ["--out", out] : []),
    ...extra,
  ];
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, THANOS_FLEET_DEBUG: "" },
  });
  return { ...r, file, home, state, out };
}

function refusedBeforeAnything(r: Awaited<ReturnType<typeof run>>, line: RegExp) {
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr.trim(), line);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "stack trace printed");
  assert.equal(existsSync(r.state), false, "the state dir was created");
  assert.equal(existsSync(r.out), false, "--out was created");
}

describe("files fleet.yaml names, in render and plan", () => {
  for (const verb of ["render", "plan"]) {
    test(`${verb}: a missing chart.path is refused at its line`, async () => {
      const r = await run(verb, `chart:\n  path: ./kps.tgz\n${CLUSTERS}`);
      refusedBeforeAnything(
        r,
        new RegExp(
          `^${r.file}:2: chart\\.path: ${r.home}/kps\\.tgz \\(\\./kps\\.tgz, relative to fleet\\.yaml's directory\\) cannot be read \\(ENOENT\\); point chart\\.path at the kube-prometheus-stack chart`,
        ),
      );
    });

    test(`${verb}: a missing images.archive is refused at its line`, async () => {
      const r = await run(verb, `images:\n  archive: /nonexistent/images.tar\n${CLUSTERS}`);
      refusedBeforeAnything(
        r,
        /fleet\.yaml:2: images\.archive: \/nonexistent\/images\.tar cannot be read \(ENOENT\); write it with 'thanos-fleet images save FILE'/,
      );
    });
  }

  test("render: a chart.path that is not kube-prometheus-stack is refused as up's preflight refuses it", async () => {
    const home = join(dir, "chart");
    await mkdir(join(home, "other"), { recursive: true });
    await writeFile(join(home, "other", "Chart.yaml"), "name: other\nversion: 1.0.0\n");
    const r = await run("plan", `chart:\n  path: ${join(home, "other")}\n${CLUSTERS}`);
    refusedBeforeAnything(
      r,
      /fleet\.yaml:2: chart\.path: the chart .*other \(chart\.path\) is other, not kube-prometheus-stack; 'helm pull/,
    );
  });
});

describe("config files that are not a fleet.yaml", () => {
  test("a billion laughs exits 2 with the file and the line, not 1", async () => {
    const lol = (name: string, of: string) => `${name}: &${name} [${Array(10).fill(of).join(", ")}]\n`;
    const yaml = `${lol("a", "lol")}${lol("b", "*a")}${lol("c", "*b")}${lol("d", "*c")}${lol("e", "*d")}${lol("f", "*e")}${CLUSTERS}`;
    const r = await run("render", yaml);
    refusedBeforeAnything(r, /fleet\.yaml:3: expands its aliases \(\*name\) into more than 100 copies/);
  });

  test("non-UTF-8 bytes exit 2 with the line and the byte offset", async () => {
    const r = await run(
      "plan",
      Buffer.concat([Buffer.from(`bucket: th\xe9\n`, "latin1"), Buffer.from(CLUSTERS)]),
    );
    refusedBeforeAnything(
      r,
      /fleet\.yaml:1: is not UTF-8: byte 10 \(0xe9\) starts no UTF-8 character; save the file as UTF-8$/,
    );
  });

  test("an empty file exits 2 at line 1", async () => {
    const r = await run("plan", "");
    refusedBeforeAnything(r, /fleet\.yaml:1: is empty .*; start from 'thanos-fleet init'/);
  });

  test("-c on a directory says so, not 'check its permissions'", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "plan", "-c", dir], { encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `${dir}: is a directory, not a fleet.yaml; pass the file itself, e.g. -c ${join(dir, "fleet.yaml")}`,
    );
  });

  test("a 0s sync interval exits 2 at its line, before anything starts", async () => {
    const r = await run("render", `blocks:\n  syncInterval: 0s\n${CLUSTERS}`);
    refusedBeforeAnything(
      r,
      /fleet\.yaml:2: blocks\.syncInterval: "0s" must be longer than 0s; use a value such as 3m$/,
    );
  });

  test("up --runtime local: a version it would not run, or a binary that is not there, exits 2 before anything", async () => {
    const version = await run("up", `versions: {thanos: v0.40.0}\n${CLUSTERS}`, "--runtime", "local");
    refusedBeforeAnything(
      version,
      /fleet\.yaml:1: versions\.thanos: v0\.40\.0: the local runtime runs thanos v0\.42\.4/,
    );
    const binary = await run("up", `binaries:\n  weed: ./weed\n${CLUSTERS}`, "--runtime", "local");
    refusedBeforeAnything(
      binary,
      /fleet\.yaml:2: binaries\.weed: .*\/weed \(\.\/weed, relative to fleet\.yaml's directory\) is not an executable file/,
    );
  });
});
