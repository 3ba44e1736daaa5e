import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../testing/tempdir.ts";

const MAIN = join(import.meta.dirname, "main.ts");

function binaries(args: string[], cache: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, THANOS_FLEET_CACHE: cache },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test("--for picks the fleet's binaries or the tests' own; a wrong value or one with names is refused", async () => {
  const cache = await tempDir("tf-binaries-main-");
  const names = (out: string) =>
    out
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(names(binaries(["--for", "tests", "--list"], cache).out), [
    "promtool",
    "etcd",
    "kube-apiserver",
  ]);
  assert.deepEqual(names(binaries(["--for=fleet", "--list"], cache).out), [
    "thanos",
    "prometheus",
    "alertmanager",
    "weed",
  ]);
  const wrong = binaries(["--for", "ci"], cache);
  assert.equal(wrong.status, 2);
  assert.match(wrong.err, /^--for takes one of fleet, tests, not "ci"/);
  const both = binaries(["--for", "tests", "etcd"], cache);
  assert.equal(both.status, 2);
  assert.match(both.err, /^name binaries or give --for, not both/);
});
