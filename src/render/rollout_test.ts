import assert from "node:assert/strict";
import { test } from "node:test";
import { renderFleet } from "./render.ts";
import { defaultTopology, fakeRenderOptions, kindAddresses } from "./testdata/fixtures.ts";
import type { KubeObject } from "./types.ts";

type Template = { spec: { template: { metadata: { annotations?: Record<string, string> } } } };

/** Renders the default fleet with the storage cluster's node at the given address, as after a Docker restart. */
function renderWithMinioAt(ip: string) {
  const topology = defaultTopology();
  const discovered = kindAddresses(topology);
  discovered.nodeIP.minio = ip;
  return renderFleet(topology, { ...fakeRenderOptions(topology), discovered, outDir: "out" });
}

function podAnnotations(objects: KubeObject[], name: string): Record<string, string> {
  const workload = objects.find((o) => o.metadata.name === name && /StatefulSet|Deployment/.test(o.kind));
  assert.ok(workload, `no workload ${name}`);
  return (workload as unknown as Template).spec.template.metadata.annotations ?? {};
}

test("a new object-store address rolls every Thanos pod that reads objstore.yml, and the Prometheus pods", () => {
  const before = renderWithMinioAt("172.18.0.5");
  const after = renderWithMinioAt("172.18.0.9");
  const mgmt = (fleet: typeof before) => fleet.clusters.find((c) => c.cluster === "mgmt")?.manifests ?? [];
  for (const name of ["thanos-store", "thanos-compact", "thanos-ruler", "thanos-bucket-web"]) {
    assert.notDeepEqual(podAnnotations(mgmt(before), name), podAnnotations(mgmt(after), name), name);
  }
  const values = (fleet: typeof before) =>
    JSON.stringify(fleet.clusters.find((c) => c.cluster === "biz1")?.helmValues);
  assert.notEqual(values(before), values(after));
  assert.match(
    values(after),
    /"podMetadata":\{"annotations":\{"thanos-fleet.io\/objstore-hash":"[0-9a-f]{16}"\}\}/,
  );
});

test("the same addresses render the same pod templates: a re-run rolls nothing", () => {
  const a = renderWithMinioAt("172.18.0.5");
  const b = renderWithMinioAt("172.18.0.5");
  assert.deepEqual(a.clusters, b.clusters);
});
