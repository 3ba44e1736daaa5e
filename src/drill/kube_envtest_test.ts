// The drill's writes against a real kube-apiserver v1.36 and etcd: the merge patches a Kubernetes fault sends and the
// ones that lift it, as the API server stores them. No controller runs here, so nothing scales pods; what is real is
// the API's answer to each write.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type ControlPlane, envtestSkip, startControlPlane } from "../../testing/envtest/controlplane.ts";
import { createKubeApi, type KubeApi } from "../runtimes/kube/api.ts";
import { CUT_OFF_KEY, RESTARTED_AT_KEY } from "./kube.ts";

const NS = "monitoring";
const skip = envtestSkip();

describe("the drill's writes against a real API server", { skip }, () => {
  let cp: ControlPlane;
  let api: KubeApi;

  before(async () => {
    cp = await startControlPlane({ name: "drill" });
    api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
    await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  });
  after(() => cp?.stop());

  const labels = { "app.kubernetes.io/name": "thanos-store" };
  const statefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "thanos-store", namespace: NS, labels },
    spec: {
      replicas: 1,
      serviceName: "thanos-store",
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "thanos", image: "quay.io/thanos/thanos:v0.42.4" }] },
      },
    },
  };

  test("a StatefulSet scaled to zero and back holds the replicas it had; `up` restores one left scaled down", async () => {
    await api.serverSideApply(statefulSet);
    const ref = { apiVersion: "apps/v1", kind: "StatefulSet", namespace: NS, name: "thanos-store" };
    const down = await api.mergePatch(ref, { spec: { replicas: 0 } });
    assert.equal((down.spec as { replicas: number }).replicas, 0);
    const back = await api.mergePatch(ref, { spec: { replicas: 1 } });
    assert.equal((back.spec as { replicas: number }).replicas, 1);
    assert.deepEqual(back.spec, (await api.get(ref))?.spec);

    // Left at zero (a drill killed hard): the server-side apply `up` makes takes spec.replicas back.
    await api.mergePatch(ref, { spec: { replicas: 0 } });
    const applied = await api.serverSideApply(statefulSet);
    assert.equal((applied.spec as { replicas: number }).replicas, 1);
  });

  test("a rollout's restartedAt is a new pod template revision, and `up`'s apply afterwards leaves it", async () => {
    await api.serverSideApply(statefulSet);
    const ref = { apiVersion: "apps/v1", kind: "StatefulSet", namespace: NS, name: "thanos-store" };
    const before = await api.get(ref);
    const stamp = "2026-12-07T14:00:00.000Z";
    const rolled = await api.mergePatch(ref, {
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_KEY]: stamp } } } },
    });
    const template = (o: typeof rolled) =>
      (o.spec as { template: { metadata: { labels?: unknown; annotations?: Record<string, string> } } })
        .template;
    assert.equal(template(rolled).metadata.annotations?.[RESTARTED_AT_KEY], stamp);
    // A new generation: the controller rolls the pods to it.
    assert.ok(Number(rolled.metadata.generation) > Number(before?.metadata.generation));
    assert.deepEqual(template(rolled).metadata.labels, labels);
    // The annotation is not a field thanos-fleet applies: a later `up` neither reverts it nor rolls again.
    const applied = await api.serverSideApply(statefulSet);
    assert.equal(template(applied).metadata.annotations?.[RESTARTED_AT_KEY], stamp);
    assert.equal(applied.metadata.generation, rolled.metadata.generation);
  });

  test("a Prometheus resource (a custom resource: no strategic merge) takes the replica count by merge patch", async () => {
    await api.serverSideApply({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "prometheuses.monitoring.coreos.com" },
      spec: {
        group: "monitoring.coreos.com",
        names: {
          kind: "Prometheus",
          listKind: "PrometheusList",
          plural: "prometheuses",
          singular: "prometheus",
        },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          },
        ],
      },
    });
    const prometheus = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "Prometheus",
      metadata: { name: "kube-prometheus-stack-prometheus", namespace: NS },
      spec: { replicas: 2, replicaExternalLabelName: "prometheus_replica" },
    };
    // The CRD serves once established: a moment after it is created.
    for (let attempt = 0; ; attempt++) {
      try {
        await api.serverSideApply(prometheus);
        break;
      } catch (error) {
        if (attempt >= 100) throw error;
        await sleep(100);
      }
    }
    const ref = {
      apiVersion: prometheus.apiVersion,
      kind: prometheus.kind,
      namespace: NS,
      name: prometheus.metadata.name,
    };
    const down = await api.mergePatch(ref, { spec: { replicas: 1 } });
    assert.deepEqual(down.spec, { replicas: 1, replicaExternalLabelName: "prometheus_replica" });
    const back = await api.mergePatch(ref, { spec: { replicas: 2 } });
    assert.deepEqual(back.spec, prometheus.spec);
  });

  test("a cut-off adds a selector key and its lift removes it: the same Service, NodePorts and ClusterIP", async () => {
    const selector = {
      "app.kubernetes.io/name": "prometheus",
      "statefulset.kubernetes.io/pod-name": "prometheus-kube-prometheus-stack-prometheus-0",
    };
    const ref = { apiVersion: "v1", kind: "Service", namespace: NS, name: "thanos-sidecar-0" };
    const created = await api.serverSideApply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: ref.name, namespace: NS },
      spec: {
        type: "NodePort",
        selector,
        ports: [
          { name: "grpc", port: 10901, targetPort: 10901, nodePort: 31000 },
          { name: "http", port: 10902, targetPort: 10902, nodePort: 31100 },
        ],
      },
    });
    const cut = await api.mergePatch(ref, { spec: { selector: { [CUT_OFF_KEY]: "true" } } });
    assert.deepEqual((cut.spec as { selector: unknown }).selector, { ...selector, [CUT_OFF_KEY]: "true" });
    const lifted = await api.mergePatch(ref, { spec: { selector: { [CUT_OFF_KEY]: null } } });
    assert.deepEqual((lifted.spec as { selector: unknown }).selector, selector);
    assert.equal(lifted.metadata.uid, created.metadata.uid);
    assert.deepEqual(lifted.spec, created.spec);
  });
});
