// The local runtime's storage server: SeaweedFS by default; MinIO refused, with or without a binary of the user's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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

  it("refuses server: minio, naming the field and the fix", () => {
    assert.throws(
      () => checkLocalStorage(fleet({ server: "minio" })),
      /^Error: clusters\[2\]\.server in fleet\.yaml: the local runtime does not run MinIO: .*Set server: seaweedfs/,
    );
  });

  it("refuses server: minio with binaries.minio too: the scoped key would need madmin-go", () => {
    assert.throws(
      () => checkLocalStorage(fleet({ server: "minio" }, { minio: "/opt/minio/bin/minio" })),
      /binaries\.minio is set, but .*madmin-go \(AGPL\)/,
    );
  });

  it("rejects a server it does not know", () => {
    assert.throws(
      () => fleet({ server: "ceph" }),
      /clusters\[2\]\.server: "ceph" must be seaweedfs or minio/,
    );
  });
});
