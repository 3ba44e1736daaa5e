import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeValues, REFUSED_VALUES, refusedValues } from "./values.ts";

describe("user values merged over the rendered ones", () => {
  test("mappings merge key by key, lists and scalars replace, null deletes, and neither input changes", () => {
    const base = {
      grafana: { enabled: true, service: { type: "NodePort", nodePort: 30300 }, extra: [1, 2] },
      kubeStateMetrics: { enabled: true },
      keep: "x",
    };
    const over = {
      grafana: { service: { annotations: { a: "b" } }, extra: [3] },
      kubeStateMetrics: { enabled: false },
      keep: null,
      added: { deep: { value: 1 } },
    };
    const before = structuredClone({ base, over });
    assert.deepEqual(mergeValues(base, over), {
      grafana: {
        enabled: true,
        service: { type: "NodePort", nodePort: 30300, annotations: { a: "b" } },
        extra: [3],
      },
      kubeStateMetrics: { enabled: false },
      added: { deep: { value: 1 } },
    });
    assert.deepEqual({ base, over }, before);
  });

  test("what is merged in is a copy: changing the result leaves the user's values alone", () => {
    const over = { a: { list: [{ x: 1 }] } };
    const merged = mergeValues({}, over) as { a: { list: { x: number }[] } };
    (merged.a.list[0] as { x: number }).x = 2;
    assert.equal(over.a.list[0]?.x, 1);
  });
});

describe("refused values", () => {
  test("every refused key is refused, alone or under it, with the field to use when there is one", () => {
    for (const r of REFUSED_VALUES) {
      const values: Record<string, unknown> = {};
      let node = values;
      for (const key of r.path.slice(0, -1)) {
        node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
      node[r.path.at(-1) as string] = { below: 1 };
      const found = refusedValues(values, "clusters[2]");
      assert.deepEqual(
        found.map((f) => f.path),
        [r.path],
        r.path.join("."),
      );
      if (r.use) assert.match(found[0]?.fix ?? "", /instead$/);
      assert.ok(!found[0]?.fix.includes("{cluster}"));
    }
  });

  test("what the fleet does not set passes: other Prometheus settings, components turned off, images", () => {
    assert.deepEqual(
      refusedValues({
        prometheus: { prometheusSpec: { walCompression: true, podMetadata: { labels: { team: "a" } } } },
        kubeStateMetrics: { enabled: false },
        nodeExporter: { enabled: false },
        grafana: { image: { registry: "mirror.example.com" }, sidecar: { datasources: { label: "x" } } },
        prometheusOperator: { admissionWebhooks: { enabled: false } },
      }),
      [],
    );
  });

  test("a cluster's values name that cluster's field; the fleet-wide ones name clusters[i]", () => {
    const values = { prometheus: { prometheusSpec: { replicas: 3 } } };
    assert.match(refusedValues(values, "clusters[1]")[0]?.fix ?? "", /clusters\[1\]\.prometheus\.replicas/);
    assert.match(refusedValues(values)[0]?.fix ?? "", /clusters\[i\]\.prometheus\.replicas/);
  });
});
