import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readJsonFile, writeJsonFile } from "./json-file.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-json-file-"));
after(() => rm(dir, { recursive: true, force: true }));

const opts = {
  validate: (value: unknown) => {
    if (typeof (value as { n?: unknown })?.n !== "number") throw new Error("n is not a number");
    return value as { n: number };
  },
  unreadable: "cannot read it; check its permissions",
  damaged: "it is damaged; delete it",
};

describe("a JSON file in the state dir", () => {
  it("is undefined while missing, then read back as written, private to the user", async () => {
    const file = join(dir, "new", "deeper", "state.json");
    assert.equal(await readJsonFile(file, opts), undefined);
    await writeJsonFile(file, { n: 1 });
    assert.deepEqual(await readJsonFile(file, opts), { n: 1 });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "new"))).mode & 0o777, 0o700);
    assert.equal(await readFile(file, "utf8"), '{\n  "n": 1\n}\n');
    await writeJsonFile(file, { n: 2 });
    assert.deepEqual(await readJsonFile(file, opts), { n: 2 });
    assert.deepEqual(await readdir(join(dir, "new", "deeper")), ["state.json"], "no temporary file left");
  });

  it("that is not JSON, or not what it should hold, is damaged, with the reason as cause", async () => {
    const file = join(dir, "damaged.json");
    for (const [text, cause] of [
      ["{", /JSON/],
      ['{"n":"one"}', /n is not a number/],
    ] as const) {
      await writeFile(file, text);
      await assert.rejects(readJsonFile(file, opts), (e: Error) => {
        assert.equal(e.message, "it is damaged; delete it");
        assert.match(String((e.cause as Error).message), cause);
        return true;
      });
    }
  });

  it("that cannot be read says so", { skip: process.getuid?.() === 0 && "root reads any file" }, async () => {
    const file = join(dir, "unreadable.json");
    await writeFile(file, '{"n":1}');
    await chmod(file, 0);
    await assert.rejects(readJsonFile(file, opts), { message: "cannot read it; check its permissions" });
  });

  it("a directory where the file should be cannot be read", async () => {
    const file = join(dir, "a-directory");
    await writeJsonFile(join(file, "inside.json"), { n: 1 });
    await assert.rejects(readJsonFile(file, opts), { message: "cannot read it; check its permissions" });
  });
});
