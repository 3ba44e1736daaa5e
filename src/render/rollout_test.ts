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

test("a renewed client certificate rolls only the Thanos pods whose HTTP clients cannot re-read it", () => {
  const topology = defaultTopology();
  const discovered = kindAddresses(topology);
  const base = fakeRenderOptions(topology);
  const render = (grpc: string, http: string) =>
    renderFleet(topology, {
      ...base,
      ...(base.grpcTls
        ? { grpcTls: { ...base.grpcTls, clientCert: `${base.grpcTls.clientCert}${grpc}` } }
        : {}),
      ...(base.httpTls
        ? { httpTls: { ...base.httpTls, clientCert: `${base.httpTls.clientCert}${http}` } }
        : {}),
      discovered,
      outDir: "out",
    });
  const templates = (fleet: ReturnType<typeof render>) =>
    new Map(
      fleet.clusters.flatMap((c) =>
        c.manifests
          .filter((o) => /StatefulSet|Deployment/.test(o.kind))
          .map((o) => [
            `${c.cluster}/${o.metadata.name}`,
            JSON.stringify((o as unknown as Template).spec.template),
          ]),
      ),
    );
  const rolled = (a: ReturnType<typeof render>, b: ReturnType<typeof render>) => {
    const [x, y] = [templates(a), templates(b)];
    return [...x.keys()].filter((k) => x.get(k) !== y.get(k)).sort();
  };
  const before = render("", "");
  assert.ok(templates(before).size > 0);
  // gRPC clients (Thanos's clientTLSManager) re-read theirs at each handshake: nothing rolls.
  assert.deepEqual(rolled(before, render("-renewed", "")), []);
  // The HTTP one: only query-frontend and the rulers (Thanos's HTTP clients); the chart's values do not change.
  const http = render("", "-renewed");
  assert.deepEqual(rolled(before, http), ["mgmt/thanos-query-frontend", "mgmt/thanos-ruler"]);
  const values = (f: ReturnType<typeof render>) => JSON.stringify(f.clusters.map((c) => c.helmValues));
  assert.equal(values(http), values(before));
  const holding = http.clusters.flatMap((c) =>
    [...c.secrets, ...c.manifests]
      .filter((o) => JSON.stringify(o).includes("-renewed"))
      .map((o) => `${c.cluster}/${o.kind}/${o.metadata.name}`),
  );
  assert.ok(
    holding.some((o) => o.endsWith("/Secret/thanos-fleet-http-tls")),
    holding.join(", "),
  );
});

test("renewed storage certificates roll nothing: SeaweedFS re-reads them, their ConfigMap is written in place", () => {
  const topology = defaultTopology();
  assert.equal(topology.storage?.server, "seaweedfs");
  const base = fakeRenderOptions(topology);
  assert.ok(base.s3Tls);
  const render = (suffix: string) =>
    renderFleet(topology, {
      ...base,
      ...(base.s3Tls
        ? {
            s3Tls: {
              ...base.s3Tls,
              cert: `${base.s3Tls.cert}${suffix}`,
              internalCert: `${base.s3Tls.internalCert}${suffix}`,
            },
          }
        : {}),
      discovered: kindAddresses(topology),
      outDir: "out",
    });
  const [before, after] = [render(""), render("-renewed")];
  const workloads = (f: typeof before) =>
    f.clusters.flatMap((c) => c.manifests.filter((o) => /StatefulSet|Deployment/.test(o.kind)));
  assert.deepEqual(
    workloads(after).map((o) => JSON.stringify(o)),
    workloads(before).map((o) => JSON.stringify(o)),
  );
  const holding = after.clusters.flatMap((c) =>
    [...c.secrets, ...c.manifests]
      .filter((o) => JSON.stringify(o).includes("-renewed"))
      .map((o) => `${c.cluster}/${o.kind}/${o.metadata.name}`),
  );
  assert.ok(holding.length > 0 && holding.every((o) => o.startsWith("minio/")), holding.join(", "));
});
