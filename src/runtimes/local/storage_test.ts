// The local runtime's storage server: SeaweedFS by default; MinIO refused, with or without a binary of the user's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ConfigError } from "../../topology/errors.ts";
import { parseFleet } from "../../topology/load.ts";
import { checkLocalStorage } from "./supported.ts";

const fleet = (storage: Record<string, unknown>, binaries: Record<string, string> = {}) =>
  parseFleet(
    {
      binaries,
      clusters: [
        { name: "mgmt", role: "observer" },
        { name: "biz1", role: "workload" },
        { name: "minio", role: "storage", ...storage },
      ],
    },
    "fleet.yaml",
  );

describe("the local runtime's storage server", () => {
  it("is SeaweedFS unless fleet.yaml says otherwise", () => {
    const topology = fleet({});
    assert.equal(topology.storage?.server, "seaweedfs");
    assert.doesNotThrow(() => checkLocalStorage(topology));
  });

  it("refuses server: minio, naming the field and the fix, exit 2", () => {
    assert.throws(
      () => checkLocalStorage(fleet({ server: "minio" })),
      (e: ConfigError) => {
        assert.equal(e.exitCode, 2);
        assert.match(
          e.message,
          /^fleet\.yaml: clusters\[2\]\.server: the local runtime does not run MinIO: .*madmin-go \(AGPL\).*; set server: seaweedfs/,
        );
        return true;
      },
    );
  });

  it("refuses binaries.minio when fleet.yaml is read: the local runtime never runs MinIO", () => {
    assert.throws(
      () => fleet({ server: "minio" }, { minio: "/opt/minio/bin/minio" }),
      /binaries\.minio: is not a program the local runtime runs: it never runs MinIO/,
    );
  });

  it("rejects a server it does not know", () => {
    assert.throws(
      () => fleet({ server: "ceph" }),
      /clusters\[2\]\.server: "ceph" must be seaweedfs or minio/,
    );
  });
});
