import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../testing/tempdir.ts";
import { binCacheDir, cachedBinaryPath, writeAtomically } from "./cache.ts";

test("cache directory: THANOS_FLEET_CACHE, then XDG_CACHE_HOME, then ~/.cache", () => {
  const cases: [Record<string, string>, string][] = [
    [{ THANOS_FLEET_CACHE: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" }, "/c/bin"],
    [{ XDG_CACHE_HOME: "/x", HOME: "/h" }, "/x/thanos-fleet/bin"],
    [{ HOME: "/h" }, "/h/.cache/thanos-fleet/bin"],
    [{ THANOS_FLEET_CACHE: "", XDG_CACHE_HOME: "", HOME: "/h" }, "/h/.cache/thanos-fleet/bin"],
  ];
  for (const [env, want] of cases) assert.equal(binCacheDir(env), want, JSON.stringify(env));
});

test("a binary lives at <cache>/<name>-<version>/<name>", () => {
  assert.equal(
    cachedBinaryPath({ name: "thanos", version: "v0.42.4" }, { THANOS_FLEET_CACHE: "/c" }),
    "/c/bin/thanos-v0.42.4/thanos",
  );
});

test("writeAtomically renames a whole file into place and leaves nothing on failure", async () => {
  const dir = await tempDir("tf-cache-");
  const dest = join(dir, "thanos-v1", "thanos");
  await writeAtomically(dest, (tmp) => writeFile(tmp, "whole"));
  assert.equal(await readFile(dest, "utf8"), "whole");

  const other = join(dir, "prometheus-v1", "prometheus");
  await assert.rejects(
    writeAtomically(other, async (tmp) => {
      await writeFile(tmp, "half");
      throw new Error("build broke");
    }),
    /build broke/,
  );
  assert.deepEqual(await readdir(join(dir, "prometheus-v1")), []);
});
