// `down --purge` deletes the credentials and TLS material thanos-fleet generated, and nothing the user wrote.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadCredentials, loadOrCreateCredentials } from "./credentials.ts";
import { describePurged, purgeSecrets } from "./purge.ts";
import { recordRuntime } from "./runtime.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-purge-"));
after(() => rm(dir, { recursive: true, force: true }));

/** A state dir as `up` leaves it, plus a file of the user's. */
async function stateDir(runtime: "local" | "kubernetes"): Promise<string> {
  const state = await mkdtemp(join(dir, "state-"));
  await loadOrCreateCredentials(state);
  await mkdir(join(state, "tls"), { mode: 0o700 });
  await writeFile(join(state, "tls", "ca.key"), "key", { mode: 0o600 });
  await recordRuntime(state, runtime);
  await writeFile(join(state, "my-notes.txt"), "mine");
  return state;
}

describe("down --purge and the state dir's secrets", () => {
  it("deletes credentials.yaml and tls/ once no fleet is recorded; keeps the user's files and the directory", async () => {
    const state = await stateDir("local");
    await rm(join(state, "runtime.json"));
    const purged = await purgeSecrets(state);
    assert.deepEqual(purged, { deleted: ["credentials.yaml", "tls"], kept: ["my-notes.txt"] });
    assert.deepEqual(await readdir(state), ["my-notes.txt"]);
    assert.match(
      describePurged(state, purged),
      /deleted the fleet's generated credentials\.yaml and tls .*left there .*my-notes\.txt/,
    );
  });

  it("deletes only the TLS files thanos-fleet wrote: a file of the user's in tls/ stays, with the directory", async () => {
    const state = await stateDir("local");
    await rm(join(state, "runtime.json"));
    await mkdir(join(state, "tls", "servers"), { mode: 0o700 });
    await writeFile(join(state, "tls", "servers", "mgmt.thanos-query-0.thanos-query.crt"), "cert");
    await writeFile(join(state, "tls", "servers", "mgmt.thanos-query-0.thanos-query.key"), "key");
    await writeFile(join(state, "tls", "my-ca-notes.txt"), "mine");
    const purged = await purgeSecrets(state);
    assert.deepEqual(await readdir(join(state, "tls")), ["my-ca-notes.txt"]);
    assert.equal(await readFile(join(state, "tls", "my-ca-notes.txt"), "utf8"), "mine");
    assert.deepEqual(purged.kept.sort(), ["my-notes.txt", "tls/my-ca-notes.txt"]);
    assert.match(describePurged(state, purged), /tls\/my-ca-notes\.txt/);
  });

  it("keeps them while a fleet is still recorded (it runs with them)", async () => {
    const state = await stateDir("kubernetes");
    const before = await readFile(join(state, "credentials.yaml"), "utf8");
    assert.deepEqual((await purgeSecrets(state)).deleted, []);
    assert.equal(await readFile(join(state, "credentials.yaml"), "utf8"), before);
  });

  it("through the CLI: down --runtime local --purge deletes them; objectStore.credentialsFile stays", async () => {
    const state = await stateDir("local");
    const home = await mkdtemp(join(dir, "home-"));
    await writeFile(join(home, "s3.yaml"), "access_key: mine\nsecret_key: mine-too\n");
    await writeFile(
      join(home, "fleet.yaml"),
      "objectStore:\n  endpoint: s3.example.com:443\n  credentialsFile: s3.yaml\nclusters:\n  - {name: mgmt, role: observer}\n  - {name: biz1, role: workload}\n",
    );
    const cli = join(import.meta.dirname, "..", "cli.ts");
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", cli, "down", "-c", join(home, "fleet.yaml"), "--purge", "--state-dir", state],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /deleted the fleet's generated credentials\.yaml and tls/);
    assert.deepEqual(await readdir(state), ["my-notes.txt"]);
    assert.equal(await readFile(join(home, "s3.yaml"), "utf8"), "access_key: mine\nsecret_key: mine-too\n");
    // The next up generates new ones.
    const { credentials } = await loadCredentials(state);
    assert.ok(credentials.grafana.password.length > 0);
    assert.equal(existsSync(join(state, "credentials.yaml")), false, "loadCredentials writes only on save()");
  });

  it("a damaged credentials.yaml is refused without its content", async () => {
    const state = await mkdtemp(join(dir, "damaged-"));
    await writeFile(
      join(state, "credentials.yaml"),
      'thanos:\n  accessKey: thanos-AKIASECRET\n  secretKey: "s3cr3t-value\n',
    );
    await assert.rejects(loadCredentials(state), (e: Error) => {
      assert.match(
        e.message,
        /is not valid YAML at line \d+ \(its content is secret and not shown\); delete the file/,
      );
      for (let err: unknown = e; err; err = (err as Error).cause) {
        assert.doesNotMatch(`${(err as Error).message}`, /AKIASECRET|s3cr3t/);
      }
      return true;
    });
  });
});
