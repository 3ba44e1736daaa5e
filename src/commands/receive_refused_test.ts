// The Kubernetes side does not deploy receive yet: render and up refuse a receive-mode cluster at its line, before any
// state is written.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createKubeRuntime } from "../runtimes/kube/index.ts";
import { ConfigError } from "../topology/errors.ts";
import { parseFleetYaml } from "../topology/load.ts";
import { renderCommand } from "./render.ts";

const YAML = `clusters:
  - name: mgmt
    role: observer
  - name: biz1
    role: workload
    mode: receive
  - name: minio
    role: storage
`;

test("render and Kubernetes up refuse a receive-mode cluster at its line, and write nothing", async () => {
  const topology = parseFleetYaml(YAML, "fleet.yaml");
  const dir = await mkdtemp(join(tmpdir(), "receive-refused-"));
  const stateDir = join(dir, "state");
  try {
    const refused = (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(
        error.message,
        /^fleet\.yaml:6: clusters\[1\]\.mode: is receive, which the Kubernetes runtime/,
      );
      assert.match(error.message, /--runtime local/);
      return true;
    };
    await assert.rejects(renderCommand(topology, { out: join(dir, "out"), stateDir }), refused);
    const reporter = { step: () => {}, line: () => {} } as never;
    await assert.rejects(
      createKubeRuntime().up(topology, {
        stateDir,
        reporter,
        signal: new AbortController().signal,
        verbose: false,
      }),
      refused,
    );
    assert.equal(existsSync(stateDir), false);
    assert.equal(existsSync(join(dir, "out")), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
