import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, test } from "node:test";
import { isMap, isSeq, parseDocument } from "yaml";
import { ConfigError } from "../topology/errors.ts";
import { DEFAULT_FLEET, parseFleet, parseFleetYaml } from "../topology/load.ts";
import { defaultFleetYaml, initCommand } from "./init.ts";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-init-"));
after(() => rm(dir, { recursive: true, force: true }));

/** Every key path of a parsed config, arrays by index: `clusters[1].nodePorts.grafana`. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keyPaths(v, `${prefix}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => {
      const path = prefix ? `${prefix}.${k}` : k;
      return [path, ...keyPaths(v, path)];
    });
  }
  return [];
}

/** Key paths written in the YAML file itself, not filled in by defaults. */
function writtenPaths(text: string): string[] {
  const walk = (node: unknown, prefix: string): string[] => {
    if (isMap(node)) {
      return node.items.flatMap((pair) => {
        const key = String((pair.key as { value: unknown }).value);
        const path = prefix ? `${prefix}.${key}` : key;
        return [path, ...walk(pair.value, path)];
      });
    }
    if (isSeq(node)) return node.items.flatMap((item, i) => walk(item, `${prefix}[${i}]`));
    return [];
  };
  return walk(parseDocument(text).contents, "");
}

describe("thanos-fleet init", () => {
  test("writes a fleet.yaml that parses to exactly the default fleet", async () => {
    const file = join(dir, "fleet.yaml");
    const stdout = new PassThrough();
    await initCommand(file, { force: false, stdout });
    assert.match(String(stdout.read()), /^wrote .*fleet\.yaml: the default fleet/);
    const written = parseFleetYaml(await readFile(file, "utf8"), file);
    const builtIn = parseFleet(DEFAULT_FLEET, "default");
    assert.deepEqual(written.fleet, builtIn.fleet);
    assert.deepEqual(written.workloads, builtIn.workloads);
  });

  test("shows every key with its default value, and comments the optional ones", () => {
    const text = defaultFleetYaml();
    const written = new Set(writtenPaths(text));
    const all = keyPaths(parseFleet(DEFAULT_FLEET, "default").fleet);
    const missing = all.filter((p) => !written.has(p));
    assert.deepEqual(missing, [], `keys with a default but not in the file: ${missing.join(", ")}`);
    // Optional keys without a default are documented as comments.
    for (const key of ["context:", "objectStore:", "endpoint:", "credentialsFile:"]) {
      assert.match(text, new RegExp(`^\\s*# ?\\s*${key}`, "m"), `${key} is not documented`);
    }
    // Every active line that sets a value carries or follows a comment somewhere in its block: spot-check a few.
    for (const key of ["sidecarGrpc", "replicas", "queryFrontend", "profile", "bucket"]) {
      assert.match(text, new RegExp(`${key}:.*#|#.*\\n\\s*${key}:`), `${key} has no comment`);
    }
  });

  test("refuses to overwrite without --force, exit code 2, and leaves the file alone", async () => {
    const file = join(dir, "mine.yaml");
    await writeFile(file, "bucket: mine\n");
    await assert.rejects(initCommand(file, { force: false, stdout: new PassThrough() }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.exitCode, 2);
      assert.equal(
        e.message,
        `${file}: already exists; pass --force to overwrite it, or --out to write another file`,
      );
      return true;
    });
    assert.equal(await readFile(file, "utf8"), "bucket: mine\n");
    await initCommand(file, { force: true, stdout: new PassThrough() });
    assert.equal(await readFile(file, "utf8"), defaultFleetYaml());
  });
});
