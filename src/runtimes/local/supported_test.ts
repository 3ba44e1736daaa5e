// What the local runtime refuses before anything starts: versions it would not run, binaries that are not there.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ConfigError } from "../../topology/errors.ts";
import { parseFleetYaml } from "../../topology/load.ts";
import { PINNED } from "../../versions.ts";
import { findHaproxy } from "./binaries.ts";
import { checkLocalConfig, configuredBinary } from "./supported.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-local-config-"));
after(() => rm(dir, { recursive: true, force: true }));

const CLUSTERS =
  "clusters:\n  - {name: mgmt, role: observer}\n  - {name: biz1, role: workload}\n  - {name: minio, role: storage}\n";
const fleet = (head: string) => parseFleetYaml(`${head}${CLUSTERS}`, join(dir, "fleet.yaml"));

function refused(head: string): ConfigError {
  try {
    checkLocalConfig(fleet(head));
  } catch (error) {
    return error as ConfigError;
  }
  assert.fail("accepted");
}

describe("the local runtime's config checks", () => {
  it("accepts the pinned versions and no binaries", () => {
    assert.doesNotThrow(() => checkLocalConfig(fleet("")));
    assert.doesNotThrow(() => checkLocalConfig(fleet(`versions: {thanos: ${PINNED.thanos}}\n`)));
  });

  it("refuses a cert-manager Issuer at its line: it needs Kubernetes", () => {
    const e = refused("bucket: thanos\ntls:\n  issuer: {name: fleet-ca, ca: ca.pem}\n");
    assert.equal(e.exitCode, 2);
    assert.equal(e.problems[0]?.field, "tls.issuer");
    assert.equal(e.problems[0]?.line, 3);
    assert.match(e.message, /a cert-manager Issuer needs Kubernetes/);
    assert.match(e.message, /remove tls\.issuer for the local runtime/);
  });

  it("refuses a versions key it would ignore, at its line, with the fix", () => {
    for (const [key, binary] of [
      ["thanos", "thanos"],
      ["prometheus", "prometheus"],
      ["alertmanager", "alertmanager"],
    ] as const) {
      const e = refused(`bucket: thanos\nversions:\n  ${key}: v0.1.0\n`);
      assert.equal(e.exitCode, 2);
      assert.equal(e.problems[0]?.line, 3);
      assert.equal(e.problems[0]?.field, `versions.${key}`);
      assert.match(
        e.message,
        new RegExp(`v0\\.1\\.0: the local runtime runs ${binary} v[0-9.]+, the pinned build`),
      );
      assert.match(e.message, new RegExp(`set binaries\\.${binary} to a ${binary} of release v0\\.1\\.0`));
    }
    const weed = refused('versions: {seaweedfs: "3.99"}\n');
    assert.match(
      weed.message,
      /versions\.seaweedfs: 3\.99: the local runtime runs weed 4\.53.*binaries\.weed/,
    );
  });

  it("takes a relative binary path from fleet.yaml's directory, and refuses one that is not there", async () => {
    await mkdir(join(dir, "bin"), { recursive: true });
    const thanos = join(dir, "bin", "thanos");
    await writeFile(thanos, "#!/bin/sh\n");
    await chmod(thanos, 0o755);
    const topology = fleet("versions: {thanos: v0.40.0}\nbinaries:\n  thanos: bin/thanos\n");
    assert.doesNotThrow(() => checkLocalConfig(topology), "another release, with a binary of its own");
    assert.equal(configuredBinary(topology, "thanos"), thanos);

    const e = refused("binaries:\n  prometheus: bin/prometheus\n");
    assert.equal(e.problems[0]?.line, 2);
    assert.equal(
      e.message,
      `${join(dir, "fleet.yaml")}:2: binaries.prometheus: ${join(dir, "bin", "prometheus")} (bin/prometheus, relative to fleet.yaml's directory) is not an executable file; point binaries.prometheus at the prometheus program, or remove it to use the pinned build`,
    );
    await writeFile(join(dir, "bin", "alertmanager"), "not executable");
    assert.match(
      refused("binaries: {alertmanager: bin/alertmanager}\n").message,
      /is not an executable file/,
    );
  });

  it("finds a relative binaries.haproxy from fleet.yaml's directory, whatever the working directory", async () => {
    const haproxy = join(dir, "bin", "haproxy");
    await writeFile(haproxy, "#!/bin/sh\n");
    await chmod(haproxy, 0o755);
    assert.equal(findHaproxy(fleet("binaries: {haproxy: ./bin/haproxy}\n")), haproxy);
  });
});
