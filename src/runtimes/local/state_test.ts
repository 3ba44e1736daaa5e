import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type FleetState, readState, removeState, stateFile, writeState } from "./state.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-state-"));
after(() => rm(dir, { recursive: true, force: true }));

const state: FleetState = {
  version: 1,
  runtime: "local",
  startedAt: "2026-11-24T00:00:00.000Z",
  complete: true,
  options: { subnet: "127.77", blockDuration: "2m", bucketSyncInterval: "15s" },
  processes: [],
  listen: ["127.77.0.1:30900"],
  urls: [{ what: "query-frontend", cluster: "mgmt", url: "http://127.77.0.1:30900" }],
  endpoints: {
    runtime: "local",
    targets: [],
    queryFrontend: "http://127.77.0.1:30900",
    objectStore: { url: "http://127.77.3.1:32000", bucket: "thanos", accessKey: "a", secretKey: "s" },
  },
};

test("state: round trip, private modes, absent after removal", async () => {
  const root = join(dir, "local");
  assert.equal(await readState(root), undefined);
  await writeState(root, state);
  assert.deepEqual(await readState(root), state);
  assert.equal((await stat(stateFile(root))).mode & 0o777, 0o600);
  assert.equal((await stat(root)).mode & 0o777, 0o700);
  await removeState(root);
  assert.equal(await readState(root), undefined);
});

for (const [name, content] of [
  ["not JSON", "{"],
  ["another format", JSON.stringify({ version: 2, processes: [] })],
] as const) {
  test(`state: ${name} is reported as damaged, naming the file and the fix`, async () => {
    const root = join(dir, name.replaceAll(" ", "-"));
    await writeState(root, state);
    await writeFile(stateFile(root), content);
    await assert.rejects(readState(root), (e: Error) => {
      assert.ok(e.message.includes(stateFile(root)));
      assert.match(e.message, /damaged; stop its processes by hand/);
      return true;
    });
  });
}
