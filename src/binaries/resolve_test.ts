import assert from "node:assert/strict";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../testing/tempdir.ts";
import { binaryPath, resolveBinary } from "./resolve.ts";

async function script(dir: string, name: string, output: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\necho '${output}'\n`);
  await chmod(path, 0o755);
  return path;
}

async function sandbox() {
  const root = await tempDir("tf-resolve-");
  const env = { PATH: join(root, "path"), THANOS_FLEET_CACHE: join(root, "cache") };
  return { root, env };
}

test("a matching version on PATH is used before the cache", async () => {
  const { root, env } = await sandbox();
  const onPath = await script(join(root, "path"), "thanos", "thanos, version 0.42.4 (branch: x)");
  const cached = binaryPath("thanos", env);
  await script(join(cached, ".."), "thanos", "thanos, version 0.42.4 (branch: x)");
  assert.equal(await resolveBinary("thanos", { env }), onPath);
});

test("another version on PATH is passed over for the cache", async () => {
  const { root, env } = await sandbox();
  await script(join(root, "path"), "thanos", "thanos, version 0.37.0 (branch: x)");
  const cached = binaryPath("thanos", env);
  await script(join(cached, ".."), "thanos", "thanos, version 0.42.4 (branch: x)");
  assert.equal(cached, join(env.THANOS_FLEET_CACHE, "bin", "thanos-v0.42.4", "thanos"));
  assert.equal(await resolveBinary("thanos", { env }), cached);
});

test("the configured path wins over PATH and cache", async () => {
  const { root, env } = await sandbox();
  await script(join(root, "path"), "prometheus", "prometheus, version 3.14.0 (branch: x)");
  const configured = await script(join(root, "mine"), "prom", "prometheus, version 2.0.0 (x)");
  assert.equal(await resolveBinary("prometheus", { env, configuredPath: configured }), configured);
  await assert.rejects(
    resolveBinary("prometheus", { env, configuredPath: join(root, "missing") }),
    /prometheus: configured path .*missing is not an executable file/,
  );
});

test("nothing found: the error names what was seen and says to run npm run binaries", async () => {
  const { root, env } = await sandbox();
  const old = await script(join(root, "path"), "alertmanager", "alertmanager, version 0.27.0 (x)");
  await assert.rejects(resolveBinary("alertmanager", { env }), (err: Error) => {
    assert.match(err.message, /^alertmanager v0\.34\.2 not found/);
    assert.ok(err.message.includes(`${old} (alertmanager, version 0.27.0 (x))`));
    assert.ok(err.message.includes("npm run binaries -- alertmanager"));
    return true;
  });
});
