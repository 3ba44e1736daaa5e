import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { ConfigError } from "../topology/errors.ts";
import { parseFleetYaml } from "../topology/load.ts";
import { fleetCredentials, readObjectStoreKey } from "./fleet-credentials.ts";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-key-"));
after(() => rm(dir, { recursive: true, force: true }));

const external = (credentialsFile: string) =>
  parseFleetYaml(
    `objectStore:\n  endpoint: s3.example.com:443\n  credentialsFile: ${credentialsFile}\nclusters:\n  - name: mgmt\n    role: observer\n  - name: biz1\n    role: workload\n`,
    join(dir, "fleet.yaml"),
  );

test("an external object store's key comes from its credentials file, relative to fleet.yaml", async () => {
  await writeFile(join(dir, "s3.yaml"), "access_key: AKIA-user\nsecret_key: user-secret\n");
  const creds = await fleetCredentials(external("s3.yaml"), join(dir, "state-a"));
  assert.deepEqual(creds.thanos, { accessKey: "AKIA-user", secretKey: "user-secret" });
  assert.ok(creds.grafana.password.length >= 16, "the other credentials are still generated");
});

test("a credentials file without both keys is refused with the file and the fix, exit 2", async () => {
  await writeFile(join(dir, "half.yaml"), "access_key: AKIA-user\n");
  await assert.rejects(fleetCredentials(external("half.yaml"), join(dir, "state-b")), (e: ConfigError) => {
    assert.equal(e.exitCode, 2);
    assert.match(
      e.message,
      /half\.yaml: lacks access_key or secret_key.*; write it as YAML: 'access_key: <key id>'/,
    );
    assert.doesNotMatch(e.message, /AKIA-user/);
    return true;
  });
});

describe("an error about the credentials file never echoes what it holds", () => {
  const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
  const cases: [string, string, RegExp][] = [
    [
      "an AWS credentials file (INI)",
      `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`,
      /:\d+: is an AWS credentials file \(INI\), not YAML \(objectStore\.credentialsFile; its content is secret and not shown\)/,
    ],
    [
      "a YAML typo",
      `access_key: ${KEY_ID}\nsecret_key: "${SECRET}\n`,
      /:\d+: is not valid YAML \([A-Z_]+\) \(objectStore\.credentialsFile; its content is secret/,
    ],
    ["a bad indent", `access_key: ${KEY_ID}\n  secret_key: ${SECRET}\n x: [\n`, /: is not valid YAML|lacks/],
    ["a list", `- ${KEY_ID}\n- ${SECRET}\n`, /lacks access_key or secret_key/],
    ["a number for the secret", `access_key: ${KEY_ID}\nsecret_key: 123${SECRET.length}\n`, /lacks/],
  ];
  for (const [name, text, message] of cases) {
    test(name, async () => {
      const file = join(dir, `secret-${name.replaceAll(" ", "-")}.yaml`);
      await writeFile(file, text);
      await assert.rejects(readObjectStoreKey(file), (e: Error) => {
        assert.equal((e as ConfigError).exitCode, 2);
        assert.match(e.message, message);
        for (let err: unknown = e; err; err = (err as Error).cause) {
          const shown = `${(err as Error).message} ${String((err as Error).stack)}`;
          for (const secret of [SECRET, SECRET.slice(0, 8), KEY_ID, KEY_ID.slice(4, 12)]) {
            assert.ok(!shown.includes(secret), `${secret} shown: ${shown}`);
          }
        }
        return true;
      });
    });
  }

  test("through the CLI: exit 2, nothing of it on stderr, nothing created", async () => {
    const home = await mkdtemp(join(dir, "cli-"));
    await writeFile(
      join(home, "s3.ini"),
      `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`,
    );
    await writeFile(
      join(home, "fleet.yaml"),
      "objectStore:\n  endpoint: s3.example.com:443\n  credentialsFile: s3.ini\nclusters:\n  - {name: mgmt, role: observer}\n  - {name: biz1, role: workload}\n",
    );
    const cli = join(import.meta.dirname, "..", "cli.ts");
    const state = join(home, "state");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        cli,
        "render",
        "-c",
        join(home, "fleet.yaml"),
        "--out",
        join(home, "out"),
        "--state-dir",
        state,
      ],
      { encoding: "utf8", env: { ...process.env, THANOS_FLEET_DEBUG: "1" } },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /s3\.ini:2: is an AWS credentials file \(INI\), not YAML/);
    for (const secret of [SECRET.slice(0, 8), KEY_ID.slice(4, 12)])
      assert.ok(!r.stderr.includes(secret), r.stderr);
    assert.equal(existsSync(state), false, "the state dir was created");
  });
});

test("without an external object store, Thanos gets the generated bucket-scoped key", async () => {
  const topology = parseFleetYaml(
    "clusters:\n  - name: mgmt\n    role: observer\n  - name: biz1\n    role: workload\n  - name: minio\n    role: storage\n",
    "fleet.yaml",
  );
  const creds = await fleetCredentials(topology, join(dir, "state-c"));
  assert.match(creds.thanos.accessKey, /^thanos-/);
});
