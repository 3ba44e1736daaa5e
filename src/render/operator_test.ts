import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { atPod, chartPrometheus, operatorExternalLabels } from "../../testing/render/operator.ts";
import { POD_IP, type SpecContext } from "../components/context.ts";
import { buildFleet, objectStoreAccess } from "../components/fleet.ts";
import { prometheusLabels } from "../components/thanos/sidecar.ts";
import { POD_NAME } from "../components/types.ts";
import { configs, defaultTopology, FAKE_CREDENTIALS, render } from "./testdata/fixtures.ts";

/** The external labels of a configuration the operator generated (or the local runtime's prometheus.yml). */
function externalLabelsOf(config: string): Record<string, string> {
  return (parse(config) as { global: { external_labels: Record<string, string> } }).global.external_labels;
}

const OPERATOR_DIR = join(import.meta.dirname, "testdata", "operator");
const recorded = (name: string) => readFileSync(join(OPERATOR_DIR, name), "utf8");

describe("the Prometheus Operator's external labels", () => {
  // Recorded with tools/operator-config (the operator v0.93.1's own config generator) from the Prometheus objects
  // next to them: the chart's object for biz1 of the default fleet, and the same without the label cleared.
  test("the chart's Prometheus object for the default fleet is the one the operator's output was recorded from", () => {
    const values = render(defaultTopology()).clusters.find((c) => c.cluster === "biz1")?.helmValues;
    assert.ok(values);
    const object = parse(recorded("biz1.prometheus.yaml")) as ReturnType<typeof chartPrometheus>;
    const p = chartPrometheus(values);
    assert.deepEqual(p.metadata, object.metadata);
    for (const key of [
      "externalLabels",
      "prometheusExternalLabelName",
      "replicaExternalLabelName",
    ] as const) {
      assert.deepEqual(p.spec[key], object.spec[key], `spec.${key}`);
    }
  });

  for (const name of ["biz1", "biz1-label-kept"]) {
    test(`${name}: the model gives exactly the labels the real operator wrote`, () => {
      const object = parse(recorded(`${name}.prometheus.yaml`)) as ReturnType<typeof chartPrometheus>;
      assert.deepEqual(operatorExternalLabels(object), externalLabelsOf(recorded(`${name}.config.yaml`)));
    });
  }

  test("the operator's real output for the default fleet's biz1: each replica announces what verify expects", () => {
    const w = defaultTopology().workloads.find((x) => x.name === "biz1");
    assert.ok(w);
    const labels = externalLabelsOf(recorded("biz1.config.yaml"));
    for (const pod of w.replicaNames) assert.deepEqual(atPod(labels, pod), prometheusLabels(w, pod));
  });

  test("the chart's Prometheus object as the operator's own tests see it: defaults add prometheus and prometheus_replica", () => {
    // The operator's golden output for externalLabels {key1, key2} on Prometheus test/example
    // (pkg/prometheus/testdata/external_label_specified.golden, v0.93).
    const golden = `global:
  scrape_interval: 30s
  external_labels:
    key1: value1
    key2: value2
    prometheus: test/example
    prometheus_replica: $(POD_NAME)
  evaluation_interval: 30s
scrape_configs: []
`;
    const labels = operatorExternalLabels({
      metadata: { name: "example", namespace: "test" },
      spec: { externalLabels: { key1: "value1", key2: "value2" } },
    });
    assert.deepEqual(labels, externalLabelsOf(golden));
  });

  test("reserved names win over the object's own labels; a name set to '' drops that label", () => {
    const labels = operatorExternalLabels({
      metadata: { name: "example", namespace: "test" },
      spec: {
        externalLabels: { prometheus_replica: "1", prometheus: "x", other: "y" },
        prometheusExternalLabelName: "",
      },
    });
    assert.deepEqual(labels, { prometheus_replica: "$(POD_NAME)", prometheus: "x", other: "y" });
  });

  test("the chart maps ...Clear to an empty name and passes a non-empty name on", () => {
    const p = chartPrometheus({
      prometheus: {
        prometheusSpec: { prometheusExternalLabelNameClear: true, replicaExternalLabelName: "replica" },
      },
    });
    assert.deepEqual(p.spec, { prometheusExternalLabelName: "", replicaExternalLabelName: "replica" });
    assert.deepEqual(p.metadata, { name: "kube-prometheus-stack-prometheus", namespace: "monitoring" });
    assert.deepEqual(
      chartPrometheus({ prometheus: { prometheusSpec: { prometheusExternalLabelName: "" } } }).spec,
      {},
    );
  });

  for (const { name, topology } of configs()) {
    test(`${name}: each replica runs with exactly the labels verify expects, and the local runtime's Prometheus with the same`, () => {
      const fleet = render(topology);
      const addresses = {
        service: (c: string, s: string, p: number) => `${s}.${c}:${p}`,
        pod: (c: string, w: string, i: number, p: number) => `${w}-${i}.${c}:${p}`,
        exposed: (c: string, p: number) => `${c}:${p}`,
      };
      const ctx: SpecContext = {
        listenHost: POD_IP,
        configDir: (w, c) => `/cfg/${w}/${c}`,
        dataDir: (w, c) => `/data/${w}/${c}`,
        addresses,
        objectStore: objectStoreAccess(topology, FAKE_CREDENTIALS, addresses),
        blockDuration: "2m",
        bucketSyncInterval: "1m",
      };
      const local = buildFleet(topology, ctx, FAKE_CREDENTIALS);
      for (const w of topology.workloads) {
        const values = fleet.clusters.find((c) => c.cluster === w.name)?.helmValues;
        assert.ok(values, `${w.name} has Helm values`);
        const operator = operatorExternalLabels(chartPrometheus(values));
        const config: string | undefined = local.pods
          .find((p) => p.cluster === w.name && p.name.startsWith("prometheus-"))
          ?.containers.find((c) => c.name === "prometheus")
          ?.files.find((f) => f.name === "prometheus.yml")?.content;
        assert.ok(config, `${w.name}: the local runtime's prometheus.yml`);
        for (const pod of w.replicaNames) {
          const kube = atPod(operator, pod);
          assert.deepEqual(kube, prometheusLabels(w, pod), `${w.name}/${pod} on Kubernetes`);
          const own: Record<string, string> = Object.fromEntries(
            Object.entries(externalLabelsOf(config)).map(([k, v]): [string, string] => [
              k,
              v.replaceAll(POD_NAME, pod),
            ]),
          );
          assert.deepEqual(own, kube, `${w.name}/${pod} in the local runtime`);
        }
      }
    });
  }
});
