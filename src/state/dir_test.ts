// The state dir: made private when thanos-fleet creates it; an existing one is never chmod-ed, and refused unless private.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkStateDir, ensureStateDir, StateDirError } from "./dir.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-state-dir-"));
after(() => rm(dir, { recursive: true, force: true }));
const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

describe("the state dir", () => {
  it("is created 0700 when missing, whatever the umask", async () => {
    const old = process.umask(0o277);
    try {
      const state = join(dir, "new", "state");
      await ensureStateDir(state);
      assert.equal(await modeOf(state), 0o700);
    } finally {
      process.umask(old);
    }
  });

  it("an existing private one is used as it is", async () => {
    const state = join(dir, "private");
    await mkdir(state, { mode: 0o700 });
    await ensureStateDir(state);
    assert.equal(await modeOf(state), 0o700);
  });

  for (const mode of [0o1777, 0o777, 0o755, 0o750, 0o720, 0o705]) {
    it(`an existing one of mode ${mode.toString(8)} is refused with why and the fix, and keeps its mode`, async () => {
      const state = join(dir, `mode-${mode.toString(8)}`);
      await mkdir(state);
      await chmod(state, mode);
      await assert.rejects(ensureStateDir(state), (e: Error) => {
        assert.ok(e instanceof StateDirError);
        assert.equal((e as StateDirError).exitCode, 2);
        assert.match(
          e.message,
          new RegExp(`^--state-dir ${state} has mode 0?${mode.toString(8)}: others can`),
        );
        assert.match(e.message, /thanos-fleet changes the mode of no directory it did not create/);
        assert.match(e.message, new RegExp(`'chmod 700 ${state}'`));
        return true;
      });
      assert.equal(await modeOf(state), mode, "its mode was changed");
      assert.deepEqual(await readdir(state), [], "something was written into it");
    });
  }

  it("a file is refused", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    await assert.rejects(checkStateDir(file), /is not a directory/);
  });

  it(
    "another user's directory is refused",
    { skip: process.getuid?.() !== 0 && "needs root to chown" },
    async () => {
      const state = join(dir, "theirs");
      await mkdir(state, { mode: 0o700 });
      await chown(state, 65534, 65534);
      await assert.rejects(checkStateDir(state), /belongs to uid 65534, not to you \(uid 0\)/);
    },
  );

  it("the CLI refuses --state-dir /tmp-like before anything, exit 2, and /tmp keeps its sticky bit", async () => {
    const shared = join(dir, "shared-tmp");
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const cli = join(import.meta.dirname, "..", "cli.ts");
    for (const args of [
      ["render", "--out", join(dir, "out")],
      ["plan"],
      ["status", "--runtime", "local"],
      ["down", "--runtime", "local", "--purge"],
    ]) {
      const r = spawnSync(process.execPath, ["--import", "tsx", cli, ...args, "--state-dir", shared], {
        encoding: "utf8",
      });
      assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`^--state-dir ${shared} has mode 1777: others can write to it and others can read it`),
      );
      assert.equal(await modeOf(shared), 0o1777);
      assert.deepEqual(await readdir(shared), []);
    }
  });
});
