import assert from "node:assert/strict";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { imagesCommand, listImages } from "../commands/images.ts";
import { loadTopology, parseFleetYaml } from "../topology/load.ts";
import type { Topology } from "../topology/topology.ts";
import { PINNED } from "../versions.ts";
import { CHART_IMAGES, chartImages } from "./chart-images.ts";
import { fleetImages, mirrorImage, normalizeImage } from "./images.ts";
import { defaultTopology, render } from "./testdata/fixtures.ts";
import type { KubeObject } from "./types.ts";

const CLUSTERS = `clusters:
  - { name: mgmt, role: observer }
  - { name: biz1, role: workload }
  - { name: biz2, role: workload }
  - { name: minio, role: storage }
`;

function fleet(head: string, clusters = CLUSTERS): Topology {
  return parseFleetYaml(`${head}\n${clusters}`, "/fleets/fleet.yaml");
}

const listed = (t: Topology) =>
  Object.fromEntries(listImages(t).map((i) => [i.image, i.usedBy.map((u) => `${u.cluster}/${u.component}`)]));

type Values = Record<string, Record<string, unknown>>;
const values = (t: Topology, cluster: string) =>
  render(t).clusters.find((c) => c.cluster === cluster)?.helmValues as Values;

/** Every image a rendered object names. */
function manifestImages(objects: KubeObject[]): string[] {
  return objects.flatMap((o) => {
    const pod = (o.spec as { template?: { spec?: { containers?: { image: string }[] } } } | undefined)
      ?.template?.spec;
    return (pod?.containers ?? []).map((c) => c.image);
  });
}

describe("thanos-fleet images", () => {
  test("the default fleet: the specs' images, the chart's images for the rendered values, the kind node image", () => {
    const images = listed(defaultTopology());
    assert.deepEqual(images, {
      "docker.io/grafana/grafana:13.2.0": ["biz1/grafana", "biz2/grafana"],
      "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7": [
        "biz1/admission-webhook-certgen",
        "biz2/admission-webhook-certgen",
      ],
      [PINNED.kindNodeImage]: ["mgmt/kind node", "biz1/kind node", "biz2/kind node", "minio/kind node"],
      "quay.io/kiwigrid/k8s-sidecar:2.10.1": ["biz1/grafana-sidecar", "biz2/grafana-sidecar"],
      [PINNED.seaweedfsImage]: ["minio/seaweedfs", "minio/seaweedfs-setup"],
      "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1": [
        "biz1/prometheus-config-reloader",
        "biz2/prometheus-config-reloader",
      ],
      "quay.io/prometheus-operator/prometheus-operator:v0.93.1": [
        "biz1/prometheus-operator",
        "biz2/prometheus-operator",
      ],
      "quay.io/prometheus/alertmanager:v0.34.2": [
        "mgmt/alertmanager",
        "biz1/alertmanager",
        "biz2/alertmanager",
      ],
      "quay.io/prometheus/node-exporter:v1.12.1-distroless": ["biz1/node-exporter", "biz2/node-exporter"],
      "quay.io/prometheus/prometheus:v3.14.0": ["biz1/prometheus", "biz2/prometheus", "minio/seaweedfs"],
      "quay.io/thanos/thanos:v0.42.4": [
        "mgmt/thanos-store",
        "mgmt/thanos-ruler",
        "mgmt/thanos-query",
        "mgmt/thanos-query-frontend",
        "mgmt/thanos-compact",
        "mgmt/thanos-bucket-web",
        "biz1/thanos-sidecar",
        "biz2/thanos-sidecar",
      ],
      "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0": [
        "biz1/kube-state-metrics",
        "biz2/kube-state-metrics",
      ],
    });
  });

  test("--json: each image with its clusters and components, nothing else", () => {
    const stdout = new PassThrough();
    imagesCommand(defaultTopology(), { json: true, stdout });
    const { images } = JSON.parse(String(stdout.read())) as { images: Record<string, unknown>[] };
    assert.deepEqual(
      images.find((i) => String(i.image).includes("grafana/grafana")),
      {
        image: "docker.io/grafana/grafana:13.2.0",
        usedBy: [
          { cluster: "biz1", component: "grafana" },
          { cluster: "biz2", component: "grafana" },
        ],
      },
    );
    assert.deepEqual(images.find((i) => i.kindNode)?.image, PINNED.kindNodeImage);
  });

  test("every image a rendered manifest runs is listed, for its cluster", () => {
    const t = defaultTopology();
    const list = listImages(t);
    for (const rc of render(t).clusters) {
      for (const image of manifestImages(rc.manifests)) {
        assert.ok(
          list.some((i) => i.image === image && i.usedBy.some((u) => u.cluster === rc.cluster)),
          `${rc.cluster}: ${image}`,
        );
      }
    }
  });

  test("grafana: false and user values that turn components off or change an image are reflected", () => {
    const t = fleet(
      "grafana: false\nkubePrometheusStackValues:\n  kubeStateMetrics: { enabled: false }\n  prometheusOperator: { admissionWebhooks: { enabled: false } }",
      `${CLUSTERS.replace(
        "  - { name: biz2, role: workload }\n",
        "  - name: biz2\n    role: workload\n    kubePrometheusStackValues:\n      nodeExporter: { enabled: false }\n      prometheusOperator: { image: { tag: v0.93.0 } }\n",
      )}`,
    );
    const images = listed(t);
    const names = Object.keys(images);
    for (const gone of ["grafana", "k8s-sidecar", "kube-state-metrics", "kube-webhook-certgen"]) {
      assert.ok(!names.some((n) => n.includes(gone)), `${gone} is still listed: ${names.join(", ")}`);
    }
    assert.deepEqual(images["quay.io/prometheus/node-exporter:v1.12.1-distroless"], ["biz1/node-exporter"]);
    assert.deepEqual(images["quay.io/prometheus-operator/prometheus-operator:v0.93.1"], [
      "biz1/prometheus-operator",
    ]);
    assert.deepEqual(images["quay.io/prometheus-operator/prometheus-operator:v0.93.0"], [
      "biz2/prometheus-operator",
    ]);
  });

  test("a registry mirror renames every image of the manifests and the chart values, the kind node image aside", () => {
    const t = fleet("images: { registry: mirror.example.com:5000/cache/ }");
    const list = listImages(t);
    for (const i of list) {
      if (i.kindNode) assert.equal(i.image, PINNED.kindNodeImage);
      else
        assert.match(
          i.image,
          /^mirror\.example\.com:5000\/cache\/(quay\.io|docker\.io|ghcr\.io|registry\.k8s\.io)\//,
          i.image,
        );
    }
    const fleetRendered = render(t);
    for (const rc of fleetRendered.clusters) {
      for (const image of manifestImages([...rc.manifests]))
        assert.match(image, /^mirror\.example\.com:5000\/cache\//);
    }
    const biz1 = values(t, "biz1");
    const prom = biz1.prometheus?.prometheusSpec as {
      image: { registry: string };
      thanos: { image: string };
    };
    assert.equal(prom.image.registry, "mirror.example.com:5000");
    assert.equal(prom.thanos.image, `mirror.example.com:5000/cache/quay.io/thanos/thanos:${PINNED.thanos}`);
    assert.deepEqual(biz1.prometheusOperator?.image, { registry: "mirror.example.com:5000/cache/quay.io" });
    assert.deepEqual(
      (biz1.grafana?.image as Record<string, string>).registry,
      "mirror.example.com:5000/cache/docker.io",
    );
    // The listing and what Helm is given agree.
    assert.deepEqual(
      fleetImages(t, fleetRendered.clusters).map((i) => i.image),
      list.map((i) => i.image),
    );
  });

  test("image names compare as containerd names them", () => {
    assert.equal(normalizeImage("busybox:1.38"), "docker.io/library/busybox:1.38");
    assert.equal(normalizeImage("grafana/grafana:13.2.0"), "docker.io/grafana/grafana:13.2.0");
    assert.equal(normalizeImage("quay.io/thanos/thanos:v0.42.4"), "quay.io/thanos/thanos:v0.42.4");
    assert.equal(normalizeImage("localhost/thanos:dev"), "localhost/thanos:dev");
    assert.equal(mirrorImage("m.example/", "node:20"), "m.example/docker.io/library/node:20");
    assert.equal(mirrorImage(undefined, "node:20"), "node:20");
  });

  test("the chart's table: every image is on by the chart's defaults except the optional ones", () => {
    const on = chartImages({}).map((i) => i.component);
    assert.deepEqual(
      CHART_IMAGES.map((i) => i.component).filter((c) => !on.includes(c)),
      [
        "admission-webhook",
        "kube-state-metrics-rbac-proxy",
        "node-exporter-rbac-proxy",
        "grafana-init-chown-data",
      ],
    );
    assert.deepEqual(
      chartImages({ prometheusOperator: { enabled: false }, grafana: { enabled: false } }).map(
        (i) => i.component,
      ),
      ["kube-state-metrics", "node-exporter"],
    );
  });
});

describe("the rendered kube-prometheus-stack values", () => {
  test("grafana: false: no Grafana, and the Thanos datasource still rendered into the chart's ConfigMap", () => {
    const t = fleet("grafana: false");
    const grafana = values(t, "biz1").grafana as Record<string, unknown>;
    assert.deepEqual(Object.keys(grafana).sort(), [
      "additionalDataSources",
      "enabled",
      "forceDeployDatasources",
    ]);
    assert.equal(grafana.enabled, false);
    assert.equal(grafana.forceDeployDatasources, true);
    const [ds] = grafana.additionalDataSources as { name: string; url: string }[];
    assert.equal(ds?.name, "Thanos");
    assert.equal(ds?.url, "https://172.18.0.2:30900");
  });

  test("user values are merged: fleet-wide first, then the cluster's own, over what the fleet renders", () => {
    const t = fleet(
      "kubePrometheusStackValues:\n  prometheus: { prometheusSpec: { walCompression: false } }\n  kubeStateMetrics: { enabled: false }",
      CLUSTERS.replace(
        "  - { name: biz1, role: workload }\n",
        "  - name: biz1\n    role: workload\n    kubePrometheusStackValues:\n      kubeStateMetrics: { enabled: true }\n      alertmanager: { alertmanagerSpec: { retention: 240h } }\n",
      ),
    );
    const biz1 = values(t, "biz1");
    const biz2 = values(t, "biz2");
    const spec1 = biz1.prometheus?.prometheusSpec as Record<string, unknown>;
    assert.equal(spec1.walCompression, false);
    assert.equal(spec1.replicaExternalLabelName, "prometheus_replica", "the fleet's keys stay");
    assert.deepEqual(biz1.kubeStateMetrics, { enabled: true });
    assert.deepEqual(biz2.kubeStateMetrics, { enabled: false });
    const am1 = biz1.alertmanager?.alertmanagerSpec as Record<string, unknown>;
    assert.equal(am1.retention, "240h");
    assert.ok(am1.image, "the fleet's Alertmanager image stays");
    assert.equal((biz2.alertmanager?.alertmanagerSpec as Record<string, unknown>).retention, undefined);
  });
});

describe("PLAN.md for air-gapped installs", () => {
  test("a local chart: no repository, helm installs from the path; an archive: loaded into every kind node first", () => {
    const t = fleet("chart: { path: charts/kube-prometheus-stack }\nimages: { archive: images.tar }");
    const plan = render(t).plan;
    const commands = plan.flatMap((s) => s.commands);
    assert.ok(!commands.some((c) => c.startsWith("helm repo add")));
    assert.ok(
      commands.some((c) =>
        c.startsWith(
          "helm upgrade --install kube-prometheus-stack /fleets/charts/kube-prometheus-stack --kube-context kind-biz1",
        ),
      ),
      commands.join("\n"),
    );
    const titles = plan.map((s) => s.title);
    const load = titles.indexOf("Load the image archive into every kind node");
    assert.ok(load > titles.indexOf("Create kind cluster minio"));
    assert.ok(load < titles.findIndex((x) => /MinIO|SeaweedFS|storage/i.test(x) && !x.startsWith("Create")));
    assert.deepEqual(plan[load]?.commands, [
      "kind load image-archive /fleets/images.tar --name mgmt",
      "kind load image-archive /fleets/images.tar --name biz1",
      "kind load image-archive /fleets/images.tar --name biz2",
      "kind load image-archive /fleets/images.tar --name minio",
    ]);
  });
});

describe("grafana: false in the rendered Secrets", () => {
  test("no Grafana admin Secret when there is no Grafana", () => {
    const names = (t: Topology) =>
      render(t)
        .clusters.find((c) => c.cluster === "biz1")
        ?.secrets.map((s) => s.metadata.name);
    assert.deepEqual(names(defaultTopology()), [
      "thanos-objstore",
      "thanos-fleet-s3-ca",
      "grafana-admin",
      "prometheus-kube-prometheus-stack-prometheus-tls",
      "thanos-fleet-http-tls",
      "alertmanager-tls",
    ]);
    assert.deepEqual(names(fleet("grafana: false")), [
      "thanos-objstore",
      "thanos-fleet-s3-ca",
      "prometheus-kube-prometheus-stack-prometheus-tls",
      "thanos-fleet-http-tls",
      "alertmanager-tls",
    ]);
  });
});

describe("test/offline-fleet.yaml, the fleet for a machine offline", () => {
  test("parses, and runs no image that cannot be had there", async () => {
    const t = await loadTopology(join(import.meta.dirname, "..", "..", "test", "offline-fleet.yaml"));
    const names = listImages(t).map((i) => i.image);
    for (const gone of ["grafana", "k8s-sidecar", "kube-state-metrics", "kube-webhook-certgen"]) {
      assert.ok(!names.some((n) => n.includes(gone)), gone);
    }
    assert.equal(t.fleet.chart?.path, "kube-prometheus-stack-88.5.3.tgz");
  });
});
