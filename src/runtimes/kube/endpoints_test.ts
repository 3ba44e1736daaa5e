import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type FakeKubeApi, FakeWorld } from "../../../testing/kube/fake-world.ts";
import { ingesterPodNames, routerPodNames } from "../../components/thanos/receive.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import { readDiscoveredAddresses } from "../../render/addresses.ts";
import { renderFleet } from "../../render/render.ts";
import { receiveTopology } from "../../render/testdata/fixtures.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet } from "../../topology/load.ts";
import { expectedStores, queryPods, target } from "../../verify/expect.ts";
import { createKubeRuntime } from "./index.ts";
import { addCloudClusters, defaultTopology, harness, topologyOf } from "./testdata/fixtures.ts";

/** Pods of a Deployment as the ReplicaSet names them: random suffixes, one of them on its way out. */
async function deploymentPods(api: FakeKubeApi, app: string, names: string[], terminating?: string) {
  for (const name of [...names, ...(terminating ? [terminating] : [])]) {
    await api.serverSideApply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: "monitoring",
        labels: { "app.kubernetes.io/name": app },
        ...(name === terminating ? { deletionTimestamp: "2026-11-24T10:00:00Z" } : {}),
      },
      status: { phase: "Running", podIP: "10.244.1.9" },
    });
  }
}

describe("endpoints on kind: host ports where a NodePort maps one pod, the pod proxy for the rest", () => {
  it("a receive fleet: every ingester with the address query dials, every router, and no sidecar of biz2", async () => {
    const topology = receiveTopology();
    const h = await harness(topology);
    try {
      await h.up();
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      for (const s of expectedStores(topology)) {
        const t = ep.targets.find(
          (x) => x.cluster === s.cluster && x.component === s.component && x.pod === s.pod,
        );
        assert.ok(t?.grpc, `a target for ${s.cluster}/${s.pod} (${s.component}) with its gRPC address`);
      }
      // What the receive check asks for, by the names the component gives them.
      for (const pod of ingesterPodNames(topology)) {
        assert.equal(
          target(ep, "mgmt", "receive-ingester", pod)?.grpc,
          `${pod}.thanos-receive-ingester.monitoring.svc.cluster.local:10901`,
        );
      }
      for (const pod of routerPodNames(topology)) assert.ok(target(ep, "mgmt", "receive-router", pod), pod);
      assert.ok(!ep.targets.some((t) => t.cluster === "biz2" && t.component === "sidecar"));
      assert.equal(ep.targets.filter((t) => t.cluster === "biz2" && t.component === "prometheus").length, 2);
      // The remote-write endpoint is asked with its own request over its own TLS: no pinned name, the routers' own
      // certificate names the address dialled.
      const write = ep.exposedHttp?.find((e) => e.name === "thanos-receive-router/remote-write");
      assert.equal(write?.request?.method, "POST");
      assert.equal(write?.request?.serverName, "");
      assert.match(write?.url ?? "", /^https:/);
    } finally {
      await h.cleanup();
    }
  });

  it("reports every StoreAPI verify expects with the address query dials, and each query replica", async () => {
    const topology = defaultTopology();
    const h = await harness(topology);
    try {
      await h.up();
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      assert.equal(ep.runtime, "kubernetes");
      for (const s of expectedStores(topology)) {
        const t = ep.targets.find(
          (x) => x.cluster === s.cluster && x.component === s.component && x.pod === s.pod,
        );
        assert.ok(t, `a target for ${s.cluster}/${s.pod} (${s.component})`);
        assert.ok(t.grpc, `${s.pod} has the gRPC address query dials`);
      }
      const sidecars = ep.targets
        .filter((t) => t.component === "sidecar")
        .map((t) => `${t.cluster} ${t.grpc}`);
      assert.deepEqual(sidecars, [
        "biz1 172.18.0.4:31000",
        "biz1 172.18.0.4:31001",
        "biz2 172.18.0.6:31000",
        "biz2 172.18.0.6:31001",
      ]);
      assert.equal(
        ep.targets.find((t) => t.component === "store")?.grpc,
        "thanos-store.monitoring.svc.cluster.local:10901",
      );
      assert.deepEqual(
        ep.targets.filter((t) => t.component === "rule").map((t) => t.grpc),
        [0, 1].map((i) => `thanos-ruler-${i}.thanos-ruler.monitoring.svc.cluster.local:10901`),
      );
      for (const pod of queryPods(topology))
        assert.ok(
          ep.targets.some((t) => t.component === "query" && t.pod === pod),
          pod,
        );

      // tls.http: the host ports of HTTPS servers are https; the pods behind no host port of their own that ask for
      // the client certificate are port-forwarded (TLS end to end), the others go through the API server's proxy.
      assert.equal(ep.queryFrontend, "https://127.0.0.1:20000");
      assert.equal(ep.targets.find((t) => t.component === "bucket-web")?.url, "https://127.0.0.1:20002");
      // Prometheus keeps its port inside its cluster, plain (no host port): through the API server's proxy.
      for (const t of ep.targets.filter((x) => x.component === "prometheus")) {
        assert.match(
          t.url,
          /^http:\/\/127\.0\.0\.1:\d+\/biz[12]\/prometheus-kube-prometheus-stack-prometheus-[01]\/9090$/,
        );
      }
      for (const t of ep.targets.filter((x) => ["query", "compact", "sidecar"].includes(x.component))) {
        assert.match(t.url, /^https:\/\/127\.0\.0\.1:\d+$/, `${t.pod} is port-forwarded`);
      }
      assert.deepEqual(ep.httpTls, {
        ca: `${h.stateDir}/tls/ca.crt`,
        cert: `${h.stateDir}/tls/http-client.crt`,
        key: `${h.stateDir}/tls/http-client.key`,
        // No pinned name: each server's own certificate names 127.0.0.1, where thanos-fleet reaches it.
        serverName: "",
      });
      // verify's exposure check dials each: mgmt's five, per workload cluster two sidecars and Alertmanager, and the
      // storage cluster's metrics; every one HTTPS.
      const exposed = ep.exposedHttp ?? [];
      assert.equal(exposed.length, 12);
      assert.ok(exposed.every((e) => e.tls && e.url.startsWith("https://")));
      assert.deepEqual(
        exposed.filter((e) => e.cluster === "mgmt").map((e) => `${e.name} ${e.url}`),
        [
          "thanos-query/http https://127.0.0.1:20001",
          "thanos-query-frontend/http https://127.0.0.1:20000",
          "thanos-compact/http https://172.18.0.2:30906",
          "thanos-bucket-web/http https://127.0.0.1:20002",
          "alertmanager/http https://127.0.0.1:20003",
        ],
      );
      for (const t of ep.targets.filter((x) => ["store", "rule"].includes(x.component))) {
        assert.match(
          t.url,
          /^http:\/\/127\.0\.0\.1:\d+\/[a-z0-9-]+\/[a-z0-9-]+\/\d+$/,
          `${t.pod} goes through the proxy`,
        );
      }
      // S3 over HTTPS (tls.s3): verified against the fleet CA under its fixed name; every storage port is a door
      // verify's storage-doors check tries.
      const { ca, ...store } = ep.objectStore;
      assert.match(ca ?? "", /^-----BEGIN CERTIFICATE-----/);
      assert.deepEqual(store, {
        url: "https://127.0.0.1:20300",
        bucket: "thanos",
        accessKey: "fake-thanos-access",
        secretKey: "fake-thanos-secret",
        scopeCheckBucket: "thanos-fleet-scope-check",
        serverName: "thanos-fleet-s3",
        doors: ["127.0.0.1:20300", "127.0.0.1:20301"],
      });
      assert.deepEqual(ep.grafana, [
        {
          cluster: "biz1",
          url: "http://127.0.0.1:20100",
          user: "fake-grafana-admin",
          password: "fake-grafana-password",
        },
        {
          cluster: "biz2",
          url: "http://127.0.0.1:20200",
          user: "fake-grafana-admin",
          password: "fake-grafana-password",
        },
      ]);
    } finally {
      await h.cleanup();
    }
  });

  it("a port that asks for the client certificate is port-forwarded to the pod of the replica asked for", async () => {
    const topology = defaultTopology();
    const h = await harness(topology);
    try {
      await h.up();
      const mgmt = h.world.fakeApi("kind-mgmt");
      await deploymentPods(mgmt, "thanos-query", ["thanos-query-7d9f8-x2k4p", "thanos-query-7d9f8-abcde"]);
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      const url = ep.targets.find((t) => t.component === "query" && t.pod === "thanos-query-1")?.url;
      assert.ok(url);
      // The fake API server forwards nothing: the connection ends, after the forward was asked for that pod.
      const { port } = new URL(url);
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        socket.on("close", () => resolve());
      });
      const asked = () => h.world.recorder.lines.filter((c) => c.includes("port-forward"));
      assert.deepEqual(
        asked().map((c) => c.replace(/^[^:]*: /, "")),
        ["port-forward pods/monitoring/thanos-query-7d9f8-x2k4p:10902"],
      );
    } finally {
      await h.cleanup();
    }
  });

  it("the proxy reaches replica i of a Deployment and each StatefulSet pod through the API server", async () => {
    // The guide's plaintext (tls.http: false): query's port goes through the API server's proxy too.
    const topology = parseFleet({ ...DEFAULT_FLEET, tls: { http: false } }, DEFAULT_SOURCE);
    const h = await harness(topology);
    try {
      await h.up();
      const mgmt = h.world.fakeApi("kind-mgmt");
      await deploymentPods(
        mgmt,
        "thanos-query",
        ["thanos-query-7d9f8-x2k4p", "thanos-query-7d9f8-abcde"],
        "thanos-query-55c4-old01",
      );
      mgmt.proxyAnswers.set("pods/monitoring/thanos-query-7d9f8-x2k4p:10902/api/v1/stores?type=sidecar", {
        status: 200,
        headers: { "content-type": "application/json" },
        body: Buffer.from('{"status":"success"}'),
      });
      mgmt.proxyAnswers.set("pods/monitoring/thanos-ruler-1:10902/api/v1/rules", {
        status: 200,
        headers: { "content-type": "application/json" },
        body: Buffer.from('{"status":"success","data":{"groups":[]}}'),
      });
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      const url = (component: string, pod: string) =>
        ep.targets.find((t) => t.component === component && t.pod === pod)?.url;

      const stores = await fetch(`${url("query", "thanos-query-1")}/api/v1/stores?type=sidecar`);
      assert.equal(stores.status, 200);
      assert.equal(stores.headers.get("content-type"), "application/json");
      assert.deepEqual(await stores.json(), { status: "success" });
      const rules = await fetch(`${url("rule", "thanos-ruler-1")}/api/v1/rules`);
      assert.deepEqual(await rules.json(), { status: "success", data: { groups: [] } });

      const missing = await fetch(
        `${url("query", "thanos-query-0")?.replace(/\/[^/]+\/[^/]+\/\d+$/, "/mgmt/nothing/1")}/x`,
      );
      assert.equal(missing.status, 404);
      await mgmt.delete({
        apiVersion: "v1",
        kind: "Pod",
        namespace: "monitoring",
        name: "thanos-query-7d9f8-x2k4p",
      });
      const gone = await fetch(`${url("query", "thanos-query-1")}/-/ready`);
      assert.equal(gone.status, 502);
      assert.match(
        await gone.text(),
        /replica 1 of Deployment thanos-query in context kind-mgmt is not running \(1 running\)/,
      );
    } finally {
      await h.cleanup();
    }
  });

  it("status: one row per process, ready and restarts as the pods say", async () => {
    const topology = defaultTopology();
    const h = await harness(topology);
    try {
      await h.up();
      const mgmt = h.world.fakeApi("kind-mgmt");
      await mgmt.serverSideApply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "thanos-store-0", namespace: "monitoring" },
        status: {
          phase: "Running",
          podIP: "10.244.1.4",
          conditions: [{ type: "Ready", status: "True" }],
          containerStatuses: [{ restartCount: 2 }, { restartCount: 1 }],
        },
      });
      const rows = await h.runtime.status(topology, { stateDir: h.stateDir });
      const store = rows.find((r) => r.pod === "thanos-store-0");
      assert.deepEqual(store && { ...store, urls: Object.keys(store.urls) }, {
        cluster: "mgmt",
        component: "store",
        pod: "thanos-store-0",
        address: "10.244.1.4",
        ready: true,
        restarts: 3,
        urls: [],
      });
      assert.equal(rows.find((r) => r.component === "query-frontend")?.urls.http, "https://127.0.0.1:20000");
      // In mgmt only the store's pod exists; the workload clusters' pods are the operator's, ready.
      assert.equal(rows.filter((r) => r.ready && r.cluster === "mgmt").length, 1);
      assert.deepEqual(
        rows.filter((r) => r.cluster === "biz1").map((r) => `${r.component} ${r.pod} ${r.ready}`),
        [
          "prometheus prometheus-kube-prometheus-stack-prometheus-0 true",
          "sidecar prometheus-kube-prometheus-stack-prometheus-0 true",
          "prometheus prometheus-kube-prometheus-stack-prometheus-1 true",
          "sidecar prometheus-kube-prometheus-stack-prometheus-1 true",
          "alertmanager alertmanager-kube-prometheus-stack-alertmanager-0 true",
        ],
      );
    } finally {
      await h.cleanup();
    }
  });

  it("status, endpoints and up's verify each report from one render, and read the fleet from it", async () => {
    const topology = defaultTopology();
    const h = await harness(topology);
    try {
      await h.up();
      let renders = 0;
      // A render whose spec leaves bucket web out: a report that built the fleet again would still list it.
      const render: typeof renderFleet = (t, o) => {
        renders++;
        const fleet = renderFleet(t, o);
        return {
          ...fleet,
          spec: { ...fleet.spec, pods: fleet.spec.pods.filter((p) => p.name !== "thanos-bucket-web") },
        };
      };
      const runtime = createKubeRuntime({ ...h.deps, render });
      try {
        const bucketWeb = (ep: FleetEndpoints) => ep.targets.some((t) => t.component === "bucket-web");
        const rows = await runtime.status(topology, { stateDir: h.stateDir });
        assert.equal(renders, 1, "status renders once");
        assert.ok(rows.length > 0 && !rows.some((r) => r.component === "bucket-web"));

        renders = 0;
        assert.ok(!bucketWeb(await runtime.endpoints(topology, { stateDir: h.stateDir })));
        assert.equal(renders, 1, "endpoints renders once");

        // up renders with placeholders, then with the discovered addresses; its verify reads the last render.
        renders = 0;
        let reported: FleetEndpoints | undefined;
        await runtime.up(topology, {
          stateDir: h.stateDir,
          reporter: { step: () => () => {}, info: () => {}, verbose: () => {} },
          signal: new AbortController().signal,
          verbose: false,
          verify: async (_t, opts) => {
            reported = await opts.endpoints();
            return { ok: true, text: "" };
          },
        });
        assert.equal(renders, 2, "up renders twice: with placeholders, then with the discovered addresses");
        assert.ok(reported && !bucketWeb(reported));
      } finally {
        await runtime.close();
      }
    } finally {
      await h.cleanup();
    }
  });

  it("reports no fleet before up, and names what to do", async () => {
    const h = await harness(defaultTopology());
    try {
      await assert.rejects(
        h.runtime.endpoints(defaultTopology(), { stateDir: h.stateDir }),
        /no fleet is up on Kubernetes from state dir .*; run 'thanos-fleet up' first/,
      );
      assert.deepEqual(await h.runtime.status(defaultTopology(), { stateDir: h.stateDir }), []);
    } finally {
      await h.cleanup();
    }
  });
});

describe("endpoints on existing clusters", () => {
  it("node addresses for Grafana, the external S3 endpoint, the proxy for every process", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["prod-mgmt", "prod-eu1"]);
    const topology = await topologyOf("existing.yaml");
    const h = await harness(topology, world);
    try {
      await h.up();
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      assert.deepEqual(ep.objectStore, {
        url: "http://s3.example.internal:9000",
        bucket: "thanos",
        accessKey: "fake-s3-access",
        secretKey: "fake-s3-secret",
      });
      assert.deepEqual(
        ep.grafana?.map((g) => [g.cluster, g.url]),
        [
          ["eu1", "http://10.0.1.21:30300"],
          ["lab", "http://127.0.0.1:20200"],
        ],
      );
      // No host port on an existing cluster: query-frontend asks for the client certificate, so it is port-forwarded.
      assert.match(ep.queryFrontend, /^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await h.cleanup();
    }
  });
});

describe("endpoints with grafana: false", () => {
  it("report no Grafana, and each workload cluster's datasource ConfigMap as the API has it", async () => {
    const topology = parseFleet({ ...DEFAULT_FLEET, grafana: false }, DEFAULT_SOURCE);
    const h = await harness(topology);
    try {
      await h.up();
      // What the chart renders with forceDeployDatasources, in biz1 only.
      await h.world.fakeApi("kind-biz1").serverSideApply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "kube-prometheus-stack-grafana-datasource",
          namespace: "monitoring",
          labels: { grafana_datasource: "1" },
        },
        data: { "datasource.yaml": "apiVersion: 1\ndatasources: []\n" },
      });
      const ep = await h.runtime.endpoints(topology, { stateDir: h.stateDir });
      assert.deepEqual(ep.grafana, []);
      assert.ok(!ep.targets.some((t) => t.component === "grafana"));
      const mgmtIP = (await readDiscoveredAddresses(h.stateDir))?.nodeIP.mgmt;
      // With tls.http, each datasource comes with the files the HTTP TLS Secret of its cluster holds, by the path a
      // Grafana mounts them at: verify makes the datasource's request with them.
      const files = ep.grafanaDatasources?.map((d) => Object.keys(d.files ?? {}).sort());
      const mount = "/etc/prometheus/secrets/thanos-fleet-http-tls";
      assert.deepEqual(
        files?.[0]?.filter((f) => /\/http-(ca|client)\./.test(f)),
        [`${mount}/http-ca.crt`, `${mount}/http-client.crt`, `${mount}/http-client.key`],
      );
      const key = readFileSync(join(h.stateDir, "tls", "http-client.key"), "utf8");
      assert.equal(ep.grafanaDatasources?.[0]?.files?.[`${mount}/http-client.key`], key);
      assert.deepEqual(
        ep.grafanaDatasources?.map(({ files: _, ...d }) => d),
        [
          {
            cluster: "biz1",
            configMap: "monitoring/kube-prometheus-stack-grafana-datasource",
            expectedUrl: `https://${mgmtIP}:30900`,
            found: { labels: { grafana_datasource: "1" }, datasources: "apiVersion: 1\ndatasources: []\n" },
          },
          {
            cluster: "biz2",
            configMap: "monitoring/kube-prometheus-stack-grafana-datasource",
            expectedUrl: `https://${mgmtIP}:30900`,
          },
        ],
      );
    } finally {
      await h.cleanup();
    }
  });
});
