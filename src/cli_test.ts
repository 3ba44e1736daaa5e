// The real CLI acts on the runtime a state dir's fleet was brought up with; a --runtime that contradicts it is refused.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { recordRuntime, runtimeFile } from "./state/runtime.ts";

const CLI = join(import.meta.dirname, "cli.ts");
const stateDir = await mkdtemp(join(tmpdir(), "fleet-cli-runtime-"));
after(() => rm(stateDir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", CLI, ...args, "--state-dir", stateDir],
      { env: { ...process.env, THANOS_FLEET_DEBUG: "" } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("after up --runtime local, the verbs without --runtime act on the local fleet", () => {
  it("status, verify and down use the recorded runtime", async () => {
    // What `up --runtime local` records once it starts writing (the local fleet is gone since).
    await recordRuntime(stateDir, "local");

    const status = await cli("status", "--json");
    assert.equal(status.code, 1, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), { runtime: "local", processes: [] });

    const verify = await cli("verify");
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /no local fleet is recorded in /);

    const down = await cli("down");
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /no local fleet is recorded in .*: nothing to stop/);

    const badWait = await cli("down", "--wait", "5 minutes");
    assert.equal(badWait.code, 2, badWait.stderr);
    assert.match(badWait.stderr, /^--wait '5 minutes' is not a duration/);

    const same = await cli("status", "--json", "--runtime", "local");
    assert.deepEqual(JSON.parse(same.stdout), { runtime: "local", processes: [] });
  });

  it("a contradicting --runtime is a usage error naming both, before anything is done", async () => {
    await recordRuntime(stateDir, "local");
    const before = await readdir(stateDir);
    const record = await readFile(runtimeFile(stateDir), "utf8");
    const expected =
      `the state dir ${stateDir} holds a local fleet (recorded by up); --runtime kubernetes contradicts it: ` +
      "drop --runtime, or use another --state-dir ('thanos-fleet down --purge' empties this one)\n";
    for (const verb of [["status", "--json"], ["verify"], ["down", "--purge"], ["drill"], ["up"]]) {
      const run = await cli(...verb, "--runtime", "kubernetes");
      assert.equal(run.code, 2, `${verb[0]}: ${run.stderr}`);
      assert.equal(run.stderr, expected, verb[0]);
      assert.equal(run.stdout, "", verb[0]);
    }
    // Nothing written, nothing removed: the record still names the local fleet.
    assert.deepEqual(await readdir(stateDir), before);
    assert.equal(await readFile(runtimeFile(stateDir), "utf8"), record);
  });

  it("with nothing recorded, the Kubernetes runtime", async () => {
    const empty = await mkdtemp(join(tmpdir(), "fleet-cli-none-"));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [
        "--import",
        "tsx",
        CLI,
        "status",
        "--json",
        "--state-dir",
        empty,
      ]).catch((e: { stdout: string }) => e);
      assert.deepEqual(JSON.parse(stdout), { runtime: "kubernetes", processes: [] });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
