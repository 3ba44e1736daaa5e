// Each Kubernetes server's own certificate names exactly what its clients dial: its Services' DNS names, the pods'
// names where a headless Service or the operator's governing Service is dialled, its NodePorts' node address (or
// load balancer), and 127.0.0.1 (thanos-fleet's port-forwards and kind host ports).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFleet } from "../topology/load.ts";
import { kubeLeafRequests } from "./render.ts";
import { kubeLeafName, parseKubeLeafName } from "./server-certs.ts";
import { defaultTopology, fakeRenderOptions, kindAddresses, receiveTopology } from "./testdata/fixtures.ts";

const svc = (name: string) => [
  `DNS:${name}`,
  `DNS:${name}.monitoring`,
  `DNS:${name}.monitoring.svc`,
  `DNS:${name}.monitoring.svc.cluster.local`,
];
const pod = (name: string, headless: string) => [
  `DNS:${name}.${headless}.monitoring.svc`,
  `DNS:${name}.${headless}.monitoring.svc.cluster.local`,
];

function sansOf(topology = defaultTopology(), discovered = kindAddresses(topology)) {
  const requests = kubeLeafRequests(topology, { ...fakeRenderOptions(topology), discovered });
  return new Map(requests.map((r) => [r.name, r.sans]));
}

test("one certificate per server workload that serves TLS, none for a plain one", () => {
  const sans = sansOf();
  assert.deepEqual([...sans.keys()].sort(), [
    "kube@biz1/alertmanager",
    "kube@biz1/prometheus-kube-prometheus-stack-prometheus",
    "kube@biz2/alertmanager",
    "kube@biz2/prometheus-kube-prometheus-stack-prometheus",
    "kube@mgmt/alertmanager",
    "kube@mgmt/thanos-bucket-web",
    "kube@mgmt/thanos-compact",
    "kube@mgmt/thanos-query",
    "kube@mgmt/thanos-query-frontend",
    "kube@mgmt/thanos-ruler",
    "kube@mgmt/thanos-store",
    "kube@minio/seaweedfs",
  ]);
});

test("a server on a NodePort: its Service's names, its cluster's node address, 127.0.0.1", () => {
  const sans = sansOf();
  assert.deepEqual(
    sans.get("kube@mgmt/thanos-query-frontend"),
    [...svc("thanos-query-frontend"), "IP:127.0.0.1", "IP:172.18.0.2"].sort(),
  );
  // query's Service mixes an exposed port and an in-cluster one: the `-exposed` Service's names too.
  assert.deepEqual(
    sans.get("kube@mgmt/thanos-query"),
    [...svc("thanos-query"), ...svc("thanos-query-exposed"), "IP:127.0.0.1", "IP:172.18.0.2"].sort(),
  );
});

test("a server only dialled inside its cluster: no node address", () => {
  assert.deepEqual(sansOf().get("kube@mgmt/thanos-store"), [...svc("thanos-store"), "IP:127.0.0.1"].sort());
});

test("a headless Service's pods by name (the rulers; receive's ingesters, which the routers dial by name)", () => {
  assert.deepEqual(
    sansOf().get("kube@mgmt/thanos-ruler"),
    [
      ...svc("thanos-ruler"),
      ...pod("thanos-ruler-0", "thanos-ruler"),
      ...pod("thanos-ruler-1", "thanos-ruler"),
      "IP:127.0.0.1",
    ].sort(),
  );
  const receive = sansOf(receiveTopology());
  const ingesters = receive.get("kube@mgmt/thanos-receive-ingester") ?? [];
  for (let i = 0; i < 3; i++) {
    for (const n of pod(`thanos-receive-ingester-${i}`, "thanos-receive-ingester"))
      assert.ok(ingesters.includes(n), n);
  }
  assert.ok(!ingesters.includes("IP:172.18.0.2"), "the ingesters have no NodePort");
  assert.ok(
    receive.get("kube@mgmt/thanos-receive-router")?.includes("IP:172.18.0.2"),
    "Prometheus writes to the NodePort",
  );
  assert.ok(
    !receive.has("kube@biz2/prometheus-kube-prometheus-stack-prometheus"),
    "a receive-mode Prometheus serves no TLS",
  );
});

test("the chart's servers: the Prometheus pair's per-pod names its peers scrape, Alertmanager's Service", () => {
  const sans = sansOf();
  const prometheus = sans.get("kube@biz1/prometheus-kube-prometheus-stack-prometheus") ?? [];
  for (const n of [
    ...pod("prometheus-kube-prometheus-stack-prometheus-0", "prometheus-operated"),
    ...pod("prometheus-kube-prometheus-stack-prometheus-1", "prometheus-operated"),
    ...svc("thanos-sidecar-0"),
    ...svc("thanos-sidecar-1"),
    "IP:172.18.0.3",
    "IP:127.0.0.1",
  ]) {
    assert.ok(prometheus.includes(n), n);
  }
  assert.deepEqual(
    sans.get("kube@biz1/alertmanager"),
    [...svc("kube-prometheus-stack-alertmanager"), "IP:127.0.0.1", "IP:172.18.0.3"].sort(),
  );
});

test("serviceType LoadBalancer: the load balancer's address (known before any Secret is applied), IP or name", () => {
  const topology = parseFleet(
    {
      bucket: "thanos",
      clusters: [
        { name: "mgmt", role: "observer", serviceType: "LoadBalancer" },
        { name: "biz1", role: "workload" },
        { name: "minio", role: "storage" },
      ],
    },
    "lb.yaml",
  );
  const discovered = {
    ...kindAddresses(topology),
    loadBalancer: { mgmt: { "30900": "lb.example.net:30900", "30904": "203.0.113.7:30904" } },
  };
  const sans = sansOf(topology, discovered);
  assert.ok(sans.get("kube@mgmt/thanos-query-frontend")?.includes("DNS:lb.example.net"));
  assert.ok(sans.get("kube@mgmt/thanos-query")?.includes("IP:203.0.113.7"));
  assert.ok(!sans.get("kube@mgmt/thanos-query")?.includes("IP:172.18.0.2"), "not the node address");
});

test("before any address is discovered (render): the names only; up re-issues once the address is known", () => {
  const topology = defaultTopology();
  const requests = kubeLeafRequests(topology, fakeRenderOptions(topology));
  const qfe = requests.find((r) => r.name === "kube@mgmt/thanos-query-frontend");
  assert.deepEqual(qfe?.sans, [...svc("thanos-query-frontend"), "IP:127.0.0.1"].sort());
  assert.ok(
    requests.every((r) => r.sans.every((s) => !s.includes("$"))),
    "no placeholder in a certificate",
  );
});

test("kube leaf names never clash with a local server's (cluster/pod/container) and read back", () => {
  const name = kubeLeafName("biz1", "alertmanager");
  assert.equal(name, "kube@biz1/alertmanager");
  assert.deepEqual(parseKubeLeafName(name), { cluster: "biz1", workload: "alertmanager" });
  assert.equal(parseKubeLeafName("biz1/alertmanager-0/alertmanager"), undefined);
});
