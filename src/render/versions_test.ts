// Every versions key of fleet.yaml reaches what Kubernetes runs: none is accepted and then ignored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateCredentials } from "../state/credentials.ts";
import { parseFleet } from "../topology/load.ts";
import { Fleet } from "../topology/schema.ts";
import { renderFleet } from "./render.ts";
import { fakeRenderOptions } from "./testdata/fixtures.ts";

/** A valid release of each key other than the pinned one, and what must then appear in the rendered fleet. */
const OTHER: Record<string, { value: string; shows: string }> = {
  thanos: { value: "v0.41.0", shows: "quay.io/thanos/thanos:v0.41.0" },
  prometheus: { value: "v3.13.0", shows: "v3.13.0" },
  alertmanager: { value: "v0.33.0", shows: "v0.33.0" },
  kubePrometheusStack: { value: "88.4.0", shows: "--version 88.4.0" },
  kindNodeImage: { value: "kindest/node:v1.35.0", shows: "kindest/node:v1.35.0" },
  seaweedfs: { value: "4.52", shows: "chrislusf/seaweedfs:4.52" },
  minio: { value: "RELEASE.2025-04-22T22-12-26Z", shows: "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z" },
};

function rendered(versions: Record<string, string>, server: "seaweedfs" | "minio"): string {
  const topology = parseFleet(
    {
      versions,
      clusters: [
        { name: "mgmt", role: "observer" },
        { name: "biz1", role: "workload" },
        { name: "minio", role: "storage", server },
      ],
    },
    "fleet.yaml",
  );
  return JSON.stringify(
    renderFleet(topology, {
      ...fakeRenderOptions(topology),
      credentials: generateCredentials(),
      outDir: "out",
    }),
  );
}

describe("versions", () => {
  it("lists every key the schema knows", () => {
    const keys = Object.keys((Fleet.shape.versions.unwrap() as unknown as { shape: object }).shape);
    assert.deepEqual(keys.sort(), Object.keys(OTHER).sort());
  });

  for (const [key, { value, shows }] of Object.entries(OTHER)) {
    it(`${key}: ${value} is what the rendered fleet runs`, () => {
      const server = key === "minio" ? "minio" : "seaweedfs";
      assert.ok(!rendered({}, server).includes(shows), `${shows} rendered without being asked for`);
      assert.ok(rendered({ [key]: value }, server).includes(shows), `${shows} not rendered`);
    });
  }
});
