// Receive on Kubernetes as render makes it: the observer's routers and ingesters, and a receive-mode cluster's
// Prometheus writing to them through kube-prometheus-stack, its values checked by the pinned chart and its CRD.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cachedChart, crdSchema, helmTemplate, structuralErrors } from "../../testing/render/chart.ts";
import { REMOTE_WRITE_QUEUE } from "../components/thanos/receive.ts";
import { fleetFiles } from "./files.ts";
import { receiveTopology, render } from "./testdata/fixtures.ts";
import type { KubeObject, RenderedCluster } from "./types.ts";

const topology = receiveTopology();
const fleet = render(topology);

function cluster(name: string): RenderedCluster {
  const rc = fleet.clusters.find((c) => c.cluster === name);
  assert.ok(rc, `no cluster ${name}`);
  return rc;
}

function object(rc: RenderedCluster, kind: string, name: string): KubeObject {
  const o = [...rc.secrets, ...rc.manifests].find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${rc.cluster}: no ${kind}/${name}`);
  return o;
}

type PrometheusSpec = Record<string, unknown> & {
  remoteWrite?: {
    url: string;
    headers: Record<string, string>;
    tlsConfig: Record<string, string>;
    queueConfig: Record<string, unknown>;
  }[];
  secrets?: string[];
  thanos?: unknown;
};

function prometheusSpec(rc: RenderedCluster): PrometheusSpec {
  const values = rc.helmValues as { prometheus: { prometheusSpec: PrometheusSpec } } | undefined;
  assert.ok(values, `${rc.cluster} has no chart values`);
  return values.prometheus.prometheusSpec;
}

const args = (o: KubeObject): string[] =>
  (o.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers.flatMap(
    (c) => c.args,
  );

describe("receive on Kubernetes: the observer", () => {
  const mgmt = cluster("mgmt");

  test("routers are a Deployment of 2, ingesters a StatefulSet of 3 with a claim each and receive_replica = pod", () => {
    const router = object(mgmt, "Deployment", "thanos-receive-router");
    assert.equal((router.spec as { replicas: number }).replicas, 2);
    const ingester = object(mgmt, "StatefulSet", "thanos-receive-ingester");
    const spec = ingester.spec as { replicas: number; serviceName: string; volumeClaimTemplates: unknown[] };
    assert.equal(spec.replicas, 3);
    assert.equal(spec.volumeClaimTemplates.length, 1);
    assert.ok(args(ingester).includes('--label=receive_replica="$(POD_NAME)"'));
    assert.ok(
      args(ingester).includes(
        "--objstore.config-file=/etc/thanos-fleet/thanos-receive-ingester/objstore.yml",
      ),
    );
    // objstore.yml names the fleet CA for the storage cluster's HTTPS: the ingesters mount it as the store gateway does.
    assert.match(JSON.stringify(ingester.spec), /"secret":\{"secretName":"thanos-fleet-s3-ca"\}/);
    // Its stable DNS names come from a headless Service named as the StatefulSet's serviceName.
    const svc = object(mgmt, "Service", spec.serviceName);
    assert.equal((svc.spec as { clusterIP?: string }).clusterIP, "None");
  });

  test("the hashring ConfigMap names every ingester by its stable DNS name, ketama", () => {
    const cm = object(mgmt, "ConfigMap", "thanos-receive-router-config");
    const ring = JSON.parse((cm.data as Record<string, string>)["hashrings.json"] ?? "") as {
      algorithm: string;
      endpoints: string[];
    }[];
    assert.deepEqual(ring[0]?.algorithm, "ketama");
    assert.deepEqual(
      ring[0]?.endpoints,
      [0, 1, 2].map(
        (i) => `thanos-receive-ingester-${i}.thanos-receive-ingester.monitoring.svc.cluster.local:10901`,
      ),
    );
    assert.ok(
      args(object(mgmt, "Deployment", "thanos-receive-router")).includes("--receive.replication-factor=3"),
    );
  });

  test("one remote-write endpoint on NodePort 30907, served with mutual TLS", () => {
    const exposed = object(mgmt, "Service", "thanos-receive-router-exposed");
    assert.deepEqual((exposed.spec as { type: string; ports: unknown[] }).ports, [
      { name: "remote-write", port: 19291, targetPort: 19291, protocol: "TCP", nodePort: 30907 },
    ]);
    assert.equal((exposed.spec as { type: string }).type, "NodePort");
    const router = args(object(mgmt, "Deployment", "thanos-receive-router"));
    for (const flag of ["server-tls-cert", "server-tls-key", "server-tls-client-ca"]) {
      assert.ok(
        router.some((a) => a.startsWith(`--remote-write.${flag}=/etc/thanos-fleet/`)),
        flag,
      );
    }
    assert.ok(
      cluster("mgmt").hostPorts.some((h) => h.nodePort === 30907),
      "kind publishes the endpoint",
    );
  });

  test("query deduplicates on receive_replica and reads every ingester", () => {
    const query = args(object(mgmt, "Deployment", "thanos-query"));
    assert.ok(query.includes("--query.replica-label=receive_replica"));
    const endpoints = (object(mgmt, "ConfigMap", "thanos-query-config").data as Record<string, string>)[
      "endpoints.yaml"
    ];
    for (const i of [0, 1, 2])
      assert.ok(endpoints?.includes(`thanos-receive-ingester-${i}.thanos-receive-ingester`));
    const compact = args(object(mgmt, "StatefulSet", "thanos-compact"));
    assert.ok(compact.includes("--deduplication.replica-label=receive_replica"));
  });
});

describe("receive on Kubernetes: a receive-mode cluster", () => {
  const biz2 = cluster("biz2");
  const spec = prometheusSpec(biz2);

  test("its Prometheus runs no sidecar and writes to mgmt's endpoint with its tenant, over mutual TLS", () => {
    assert.equal(spec.thanos, undefined);
    assert.deepEqual(
      (biz2.helmValues as { prometheus: { thanosService: unknown } }).prometheus.thanosService,
      { enabled: false },
    );
    const [rw, ...more] = spec.remoteWrite ?? [];
    assert.ok(rw);
    assert.equal(more.length, 0);
    assert.equal(rw.url, "https://172.18.0.2:30907/api/v1/receive");
    assert.deepEqual(rw.headers, { "THANOS-TENANT": "biz2" });
    // No pinned name: the router's own certificate names mgmt's node address, which Prometheus dials.
    assert.equal(rw.tlsConfig.serverName, undefined);
    assert.equal(rw.queueConfig.maxShards, REMOTE_WRITE_QUEUE.max_shards);
    assert.deepEqual(spec.externalLabels, { cluster: "biz2" });
    assert.equal(spec.replicaExternalLabelName, "prometheus_replica");
  });

  test("each file its TLS names is a key of a Secret it mounts, and it holds no bucket credential", () => {
    const [rw] = spec.remoteWrite ?? [];
    assert.ok(rw);
    for (const file of ["caFile", "certFile", "keyFile"]) {
      const m = /^\/etc\/prometheus\/secrets\/([^/]+)\/([^/]+)$/.exec(rw.tlsConfig[file] ?? "");
      assert.ok(m, `${file}: ${rw.tlsConfig[file]}`);
      const [, name = "", key = ""] = m;
      assert.ok(spec.secrets?.includes(name), `${name} is not in prometheusSpec.secrets`);
      const data = object(biz2, "Secret", name).stringData as Record<string, string>;
      assert.ok(key in data, `Secret ${name} has no ${key}`);
    }
    const secrets = biz2.secrets.map((s) => s.metadata.name);
    assert.ok(!secrets.includes("thanos-objstore"), secrets.join(" "));
    assert.ok(!secrets.includes("thanos-grpc-tls"), "the sidecar's server certificate has no use here");
    const text = fleetFiles(topology, fleet, "out")
      .filter((f) => f.path.startsWith("biz2/"))
      .map((f) => f.content)
      .join("\n");
    assert.ok(!text.includes("fake-thanos-secret-key"), "the bucket key reached a receive-mode cluster");
    // Nothing dials into it: no sidecar Service, no sidecar NodePort published.
    assert.ok(!biz2.manifests.some((o) => o.metadata.name.startsWith("thanos-sidecar")));
  });

  test("biz1 keeps its sidecars beside it", () => {
    const biz1 = prometheusSpec(cluster("biz1"));
    assert.ok(biz1.thanos);
    assert.equal(biz1.remoteWrite, undefined);
  });

  test("the pinned chart makes a Prometheus object of it that its CRD's schema takes whole", async (t) => {
    const chart = cachedChart();
    if ("missing" in chart) return t.skip(chart.missing);
    const values = biz2.helmValues;
    assert.ok(values);
    const [prometheus] = await helmTemplate(chart, values, "templates/prometheus/prometheus.yaml");
    assert.equal(prometheus?.kind, "Prometheus");
    const made = prometheus.spec as PrometheusSpec;
    // The chart passes the fleet's remote write and Secret on as given.
    assert.deepEqual(made.remoteWrite, spec.remoteWrite);
    assert.deepEqual(made.secrets, spec.secrets);
    assert.equal(made.thanos, undefined);
    // metadata is the API server's ObjectMeta, which the CRD leaves to it: spec is the CRD's.
    const schema = crdSchema(chart, "prometheuses").properties?.spec;
    assert.ok(schema);
    assert.deepEqual(structuralErrors(prometheus.spec, schema, ".spec"), []);
    // The check itself: a misspelt or mistyped field is found.
    const wrong = structuredClone(made) as { remoteWrite: Record<string, unknown>[] };
    Object.assign(wrong.remoteWrite[0] ?? {}, { queue_config: {}, headers: { A: 1 } });
    assert.deepEqual(structuralErrors(wrong, schema, ".spec"), [
      ".spec.remoteWrite[0].headers.A: 1 is not string",
      ".spec.remoteWrite[0].queue_config: unknown field",
    ]);
  });
});
