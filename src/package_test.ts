// What `npm publish` would ship: the built product and the tools it builds binaries from, no test code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { reachable } from "../testing/imports.ts";

const ROOT = join(import.meta.dirname, "..");
const SRC = import.meta.dirname;

/**
 * Where the product starts: the `bin` and `main` of package.json, the `binaries` script, and the module the local
 * runtime runs as a process by its path (the demo workload).
 */
const ENTRIES = ["cli.ts", "index.ts", "binaries/main.ts", "runtimes/local/demo.ts"];

/** A test, a fixture, a fake or a recorder by its path. */
function isTestPath(path: string): boolean {
  return /(^|\/)(testing|testdata)\//.test(path) || /_test\.[a-z.]+$/.test(path);
}

test(
  "npm pack lists no test code: every built module is one the product runs",
  { timeout: 600_000 },
  async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
      main: string;
    };
    assert.deepEqual(Object.values(pkg.bin), ["dist/cli.js"]);
    assert.equal(pkg.main, "dist/index.js");

    // Packing runs `prepare`, which builds dist/ afresh.
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json"], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const listed = (JSON.parse(stdout) as { files: { path: string; mode: number }[] }[])[0]?.files ?? [];
    const files = listed.map((f) => f.path);
    assert.ok(files.includes("dist/cli.js") && files.includes("dist/index.js"), files.join("\n"));
    // `npx thanos-fleet` runs the bin itself: without its exec bit, "Permission denied".
    const cliMode = listed.find((f) => f.path === "dist/cli.js")?.mode ?? 0;
    assert.equal(cliMode & 0o111, 0o111, `dist/cli.js is packed with mode ${cliMode.toString(8)}`);
    assert.equal(
      statSync(join(ROOT, "dist", "cli.js")).mode & 0o111,
      0o111,
      "npm run build left dist/cli.js without its exec bit",
    );
    assert.match(readFileSync(join(ROOT, "dist", "cli.js"), "utf8"), /^#!\/usr\/bin\/env node\n/);
    assert.deepEqual(files.filter(isTestPath), []);

    const product = new Set(
      [...reachable(ENTRIES.map((e) => join(SRC, e)))].map((f) => relative(ROOT, f).replace(/\.ts$/, "")),
    );
    const notProduct = files
      .filter((f) => /^dist\/.*\.js$/.test(f))
      .map((f) => `src/${f.slice("dist/".length, -".js".length)}`)
      .filter((source) => !product.has(source))
      .map(
        (source) =>
          `${source}.ts${existsSync(join(ROOT, `${source}.ts`)) ? "" : " (no such module: a stale dist/?)"}`,
      );
    assert.deepEqual(notProduct, [], "built into the package, but no entry point of the product imports it");
  },
);
