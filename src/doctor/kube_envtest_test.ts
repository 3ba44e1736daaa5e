// doctor reading Kubernetes objects from a real kube-apiserver and etcd: Thanos Deployments and StatefulSets as a
// chart would make them (no controller runs, so no pod: what is real is what the API server stores and lists). A
// correct set yields nothing; each planted mistake is named alone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Layout } from "../../testing/doctor/layout.ts";
import { type ControlPlane, envtestSkip, startControlPlane } from "../../testing/envtest/controlplane.ts";
import { tempDir } from "../../testing/tempdir.ts";
import { fetchClient } from "../net/http.ts";
import { readOnlyClient } from "../net/https.ts";
import { createKubeApi, type KubeApi } from "../runtimes/kube/api.ts";
import { runDoctor } from "./doctor.ts";
import type { KubeReader } from "./kube.ts";

const NS = "monitoring";
const skip = envtestSkip();
const IMAGE = "quay.io/thanos/thanos:v0.42.4";

function workload(kind: "Deployment" | "StatefulSet", name: string, args: string[], extra: object = {}) {
  const labels = { "app.kubernetes.io/name": name };
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name, namespace: NS, labels },
    spec: {
      replicas: 1,
      ...(kind === "StatefulSet" ? { serviceName: name } : {}),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "thanos", image: IMAGE, args, ...extra }] },
      },
    },
  };
}

const OBJSTORE = "--objstore.config-file=/etc/thanos/objstore.yml";
const correct = {
  compact: workload("StatefulSet", "thanos-compact", [
    "compact",
    OBJSTORE,
    "--wait",
    "--retention.resolution-raw=30d",
  ]),
  store: workload("StatefulSet", "thanos-store", [
    "store",
    OBJSTORE,
    "--store.limits.request-series=1000000",
    "--store.limits.request-samples=100000000",
  ]),
  query: workload("Deployment", "thanos-query", [
    "query",
    "--query.replica-label=prometheus_replica",
    "--query.auto-downsampling",
    "--endpoint=dnssrv+_grpc._tcp.thanos-store.monitoring.svc",
  ]),
  frontend: workload("Deployment", "thanos-query-frontend", [
    "query-frontend",
    "--query-frontend.downstream-url=http://thanos-query.monitoring.svc:9090",
    "--query-range.response-cache-config-file=/etc/thanos/cache.yml",
  ]),
};

/** The correct query-frontend with these args added. */
const frontendWith = (...args: string[]) =>
  workload("Deployment", "thanos-query-frontend", [
    ...(correct.frontend.spec.template.spec.containers[0]?.args ?? []),
    ...args,
  ]);

describe("doctor reads Thanos objects from a real API server", { skip, timeout: 300_000 }, () => {
  let cp: ControlPlane;
  let api: KubeApi;
  let layout: Layout;
  let reader: KubeReader;

  before(async () => {
    layout = new Layout(6, await tempDir("doctor-kube-"));
    // doctor needs a query to ask; a lone one, with no endpoints, adds nothing of its own to the findings.
    await layout.thanos(10, "query", "query", ["--query.auto-downsampling"]);
    cp = await startControlPlane({ name: "doctor" });
    api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
    reader = { context: api.context, list: api.list.bind(api) };
    await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  });
  after(async () => {
    await cp?.stop();
    await layout?.stop();
  });

  const findings = async () => {
    const report = await runDoctor(readOnlyClient(fetchClient(10_000)), {
      query: layout.http(10),
      metrics: [],
      kube: [reader],
    });
    return { ids: report.findings.filter((f) => f.severity !== "info").map((f) => f.id), report };
  };

  /** Applies the correct objects with one replaced, and returns what doctor names. */
  const withPlanted = async (planted: Partial<typeof correct>) => {
    for (const obj of Object.values({ ...correct, ...planted })) await api.serverSideApply(obj);
    return findings();
  };

  it("finds nothing in a correct set, and reads every Thanos container", async () => {
    const { ids, report } = await withPlanted({});
    assert.deepEqual(ids, [], JSON.stringify(report.findings, null, 2));
    assert.deepEqual(report.read.slice(1).sort(), [
      `kube:doctor/${NS}/Deployment/thanos-query-frontend/thanos: query-frontend 0.42.4`,
      `kube:doctor/${NS}/Deployment/thanos-query/thanos: query 0.42.4`,
      `kube:doctor/${NS}/StatefulSet/thanos-compact/thanos: compact 0.42.4`,
      `kube:doctor/${NS}/StatefulSet/thanos-store/thanos: store 0.42.4`,
    ]);
  });

  const cases: { mistake: string; id: string; planted: Partial<typeof correct> }[] = [
    {
      mistake: "a compactor StatefulSet scaled to two replicas",
      id: "compactors-share-bucket",
      planted: { compact: { ...correct.compact, spec: { ...correct.compact.spec, replicas: 2 } } },
    },
    {
      mistake: "a store gateway without limits",
      id: "store-no-limits",
      planted: { store: workload("StatefulSet", "thanos-store", ["store", OBJSTORE]) },
    },
    {
      mistake: "a query without auto-downsampling",
      id: "no-auto-downsampling",
      planted: {
        query: workload("Deployment", "thanos-query", ["query", "--query.replica-label=prometheus_replica"]),
      },
    },
    {
      mistake: "a query-frontend that does not ask for downsampled data",
      id: "no-auto-downsampling",
      planted: { frontend: frontendWith("--no-query-range.request-downsampled") },
    },
    {
      mistake: "a query-frontend that caches range queries without aligning them to their step",
      id: "frontend-unaligned-cache",
      planted: { frontend: frontendWith("--no-query-range.align-range-with-step") },
    },
    {
      mistake: "a query-frontend whose results cache max freshness leaves nothing cacheable",
      id: "frontend-cache-bypassed",
      planted: { frontend: frontendWith("--query-range.response-cache-max-freshness=6h") },
    },
    {
      mistake: "a query on another Thanos minor version",
      id: "version-skew",
      planted: {
        query: workload(
          "Deployment",
          "thanos-query",
          correct.query.spec.template.spec.containers[0]?.args ?? [],
          {
            image: "quay.io/thanos/thanos:v0.35.1",
          },
        ),
      },
    },
  ];
  for (const c of cases) {
    it(`names ${c.id}: ${c.mistake}`, async () => {
      const { ids, report } = await withPlanted(c.planted);
      assert.deepEqual(ids, [c.id], JSON.stringify(report.findings, null, 2));
    });
  }
});
