import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { chooseRuntime, forgetRuntime, recordedRuntime, recordRuntime, runtimeFile } from "./runtime.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-runtime-"));
after(() => rm(dir, { recursive: true, force: true }));

describe("the runtime the state dir records", () => {
  it("is absent until up records one, then read back, private to the user", async () => {
    const stateDir = await mkdtemp(join(dir, "round-trip-"));
    assert.equal(await recordedRuntime(stateDir), undefined);
    await recordRuntime(stateDir, "local");
    assert.equal(await recordedRuntime(stateDir), "local");
    assert.equal((await stat(runtimeFile(stateDir))).mode & 0o777, 0o600);
    await recordRuntime(stateDir, "kubernetes");
    assert.equal(await recordedRuntime(stateDir), "kubernetes");
  });

  it("is forgotten by a purge of the runtime it names, and kept by a purge of another", async () => {
    const stateDir = await mkdtemp(join(dir, "forget-"));
    await recordRuntime(stateDir, "local");
    await forgetRuntime(stateDir, "kubernetes");
    assert.equal(await recordedRuntime(stateDir), "local");
    await forgetRuntime(stateDir, "local");
    assert.equal(await recordedRuntime(stateDir), undefined);
    await forgetRuntime(stateDir, "local");
  });

  it("a damaged record is an error that names the file and what to do", async () => {
    const stateDir = await mkdtemp(join(dir, "damaged-"));
    for (const text of ["{", '{"runtime":"docker"}', "{}"]) {
      await writeFile(runtimeFile(stateDir), text);
      await assert.rejects(recordedRuntime(stateDir), (e: Error) => {
        assert.ok(e.message.startsWith(runtimeFile(stateDir)), e.message);
        assert.match(e.message, /pass --runtime, or delete the file/);
        return true;
      });
    }
  });

  it("chooses --runtime over the record, the record over the default", async () => {
    const stateDir = await mkdtemp(join(dir, "choose-"));
    assert.equal(await chooseRuntime(undefined, stateDir), "kubernetes");
    await recordRuntime(stateDir, "local");
    assert.equal(await chooseRuntime(undefined, stateDir), "local");
    assert.equal(await chooseRuntime("kubernetes", stateDir), "kubernetes");
    assert.equal(await chooseRuntime(undefined, join(dir, "never-made")), "kubernetes");
    await assert.rejects(chooseRuntime("docker", stateDir), {
      message: /--runtime docker: use kubernetes or local/,
    });
  });
});
