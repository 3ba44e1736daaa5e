// The real binaries: each one built into the cache reports the pinned version.

import assert from "node:assert/strict";
import { test } from "node:test";
import { isExecutableFile } from "./cache.ts";
import { BINARY_NAMES, CATALOG } from "./catalog.ts";
import { binaryPath, readVersion, resolveBinary } from "./resolve.ts";

for (const name of BINARY_NAMES) {
  const s = CATALOG[name];
  const path = binaryPath(name);
  const skip = isExecutableFile(path)
    ? false
    : `${name} not built at ${path}: run npm run binaries -- ${name}`;
  test(`${name} in the cache reports ${s.version}`, { skip }, async () => {
    const out = await readVersion(path, s);
    assert.match(out ?? "", s.versionPattern);
    assert.equal(await resolveBinary(name, { env: { ...process.env, PATH: "" } }), path);
  });
}
