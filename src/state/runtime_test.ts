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

  it("chooses the record, else --runtime, else the default", async () => {
    const stateDir = await mkdtemp(join(dir, "choose-"));
    assert.equal(await chooseRuntime(undefined, stateDir), "kubernetes");
    assert.equal(await chooseRuntime("local", stateDir), "local");
    await recordRuntime(stateDir, "local");
    assert.equal(await chooseRuntime(undefined, stateDir), "local");
    assert.equal(await chooseRuntime("local", stateDir), "local");
    assert.equal(await chooseRuntime(undefined, join(dir, "never-made")), "kubernetes");
    assert.equal(await chooseRuntime("local", join(dir, "never-made")), "local");
    await assert.rejects(chooseRuntime("docker", stateDir), {
      message: /--runtime docker: use kubernetes or local/,
    });
  });

  it("a --runtime that contradicts the record is a usage error naming both, and changes nothing", async () => {
    const stateDir = await mkdtemp(join(dir, "contradict-"));
    await recordRuntime(stateDir, "local");
    await assert.rejects(chooseRuntime("kubernetes", stateDir), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.equal(
        e.message,
        `the state dir ${stateDir} holds a local fleet (recorded by up); --runtime kubernetes contradicts it: ` +
          "drop --runtime, or use another --state-dir ('thanos-fleet down --purge' empties this one)",
      );
      return true;
    });
    assert.equal(await recordedRuntime(stateDir), "local");
    await recordRuntime(stateDir, "kubernetes");
    await assert.rejects(chooseRuntime("local", stateDir), {
      message: /holds a kubernetes fleet \(recorded by up\); --runtime local contradicts it/,
    });
  });

  it("a damaged record gives way to --runtime, and is an error without one", async () => {
    const stateDir = await mkdtemp(join(dir, "damaged-choose-"));
    await writeFile(runtimeFile(stateDir), "{");
    assert.equal(await chooseRuntime("local", stateDir), "local");
    await assert.rejects(chooseRuntime(undefined, stateDir), /pass --runtime, or delete the file/);
  });
});
