import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../render/testdata/fixtures.ts";
import type { Credentials } from "../../state/credentials.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { type LocalPlan, listenAddresses, planLocalFleet, STAGE } from "./processes.ts";
import { fleetEndpoints, urlTable } from "./report.ts";

const creds: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};
const options = { subnet: "127.77", blockDuration: "1m", bucketSyncInterval: "5s" };

const threeWorkloads = {
  clusters: [
    { name: "obs", role: "observer", queryReplicas: 3 },
    ...["a", "b", "c"].map((name) => ({ name, role: "workload", prometheus: { replicas: 3 } })),
    { name: "s3", role: "storage" },
  ],
};

function planOf(input: unknown): { plan: LocalPlan; topology: ReturnType<typeof parseFleet> } {
  const topology = parseFleet(input, "test");
  return {
    topology,
    plan: planLocalFleet(topology, creds, "/state", options, FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS),
  };
}

const IP = /127\.77\.([0-9]+)\.([0-9]+)/g;

for (const [name, input] of [
  ["default fleet", DEFAULT_FLEET],
  ["three workload clusters with three replicas", threeWorkloads],
] as const) {
  describe(`local plan: ${name}`, () => {
    const { plan, topology } = planOf(input);
    const indexOf = (cluster: string) => plan.network.clusters.get(cluster)?.index;

    test("no placeholder is left in args, environment or files", () => {
      for (const p of plan.processes) {
        const text = [
          ...p.args,
          ...Object.values(p.env),
          ...p.files.flatMap((f) => [f.path, f.content]),
        ].join("\n");
        assert.doesNotMatch(text, /\$\(/, p.id);
      }
    });

    test("clusters are isolated: a process reaches another cluster only through its node address (NodePorts)", () => {
      for (const p of plan.processes) {
        const text = [...p.args, ...p.files.map((f) => f.content)].join("\n");
        for (const m of text.matchAll(IP)) {
          const [addr, cluster, host] = m;
          if (Number(cluster) === indexOf(p.cluster)) continue;
          assert.equal(host, "1", `${p.id} uses ${addr} of another cluster directly`);
        }
      }
    });

    test("every process listens on its own address:port", () => {
      const all = plan.processes.flatMap((p) => p.ports.map((port) => `${p.ip}:${port.port}`));
      assert.equal(new Set(all).size, all.length);
      const listen = listenAddresses(plan);
      assert.equal(new Set(listen).size, listen.length);
      for (const a of all) assert.ok(listen.includes(a));
    });

    test("each replica keeps its data and config under its own cluster and pod", () => {
      const dirs = plan.processes.flatMap((p) => p.dirs.filter((d) => d !== p.cwd));
      assert.equal(new Set(dirs).size, dirs.length, "two processes share a directory");
      for (const p of plan.processes) {
        if (p.component === "load-balancer") continue;
        for (const d of [...p.dirs, ...p.files.map((f) => f.path), p.log]) {
          assert.ok(d.startsWith(`/state/local/${p.cluster}/${p.pod}/`) || d === p.cwd, `${p.id}: ${d}`);
        }
      }
    });

    test("Prometheus replicas carry their own replica label and scrape the demo of their cluster", () => {
      for (const w of topology.workloads) {
        for (const pod of w.replicaNames) {
          const prom = plan.processes.find(
            (p) => p.cluster === w.name && p.pod === pod && p.component === "prometheus",
          );
          const config = parse(prom?.files[0]?.content ?? "");
          assert.deepEqual(config.global.external_labels, { cluster: w.name, prometheus_replica: pod });
          const demo = config.scrape_configs.find((j: { job_name: string }) => j.job_name === "fleet-demo");
          assert.ok(demo, `${w.name}/${pod} does not scrape the demo`);
        }
      }
    });

    test("start order: load balancers, storage, workload clusters, then mgmt's stores, queries and frontend", () => {
      const stageOf = (component: string) => [
        ...new Set(plan.processes.filter((p) => p.component === component).map((p) => p.stage)),
      ];
      assert.deepEqual(stageOf("load-balancer"), [STAGE.loadBalancer]);
      assert.deepEqual(stageOf("object-store"), [STAGE.storage]);
      for (const c of ["prometheus", "sidecar", "demo"]) assert.deepEqual(stageOf(c), [STAGE.workload], c);
      assert.deepEqual(stageOf("store"), [STAGE.mgmtBackends]);
      assert.deepEqual(stageOf("query"), [STAGE.mgmtQuery]);
      assert.deepEqual(stageOf("query-frontend"), [STAGE.mgmtFrontend]);
      const prom = plan.processes.findIndex((p) => p.component === "prometheus");
      const sidecar = plan.processes.findIndex((p) => p.component === "sidecar");
      assert.ok(prom < sidecar, "in a pod, Prometheus starts before its sidecar");
    });

    test("endpoints: a target per process with HTTP, and the gRPC addresses are exactly what query dials", () => {
      const endpoints = fleetEndpoints(topology, plan);
      const http = plan.processes.filter(
        (p) => p.component !== "load-balancer" && p.ports.some((x) => x.protocol === "http"),
      );
      assert.equal(endpoints.targets.length, http.length);
      for (const t of endpoints.targets) assert.match(t.url, /^https?:\/\/127\.77\.[0-9]+\.[0-9]+:[0-9]+$/);
      // With tls.http, what leaves a cluster is HTTPS; the store gateway and the ruler stay inside mgmt, plain.
      const scheme = (component: string) =>
        new Set(endpoints.targets.filter((t) => t.component === component).map((t) => t.url.split(":")[0]));
      for (const c of [
        "query-frontend",
        "query",
        "prometheus",
        "sidecar",
        "alertmanager",
        "compact",
        "bucket-web",
      ]) {
        assert.deepEqual(scheme(c), new Set(["https"]), c);
      }
      for (const c of ["store", "rule"]) assert.deepEqual(scheme(c), new Set(["http"]), c);
      assert.ok(endpoints.httpTls?.cert.endsWith("/state/tls/http-client.crt"));
      assert.ok(endpoints.exposedHttp?.every((e) => e.tls && e.url.startsWith("https://127.77.")));
      const query = plan.processes.find((p) => p.component === "query");
      const file = query?.files.find((f) => f.path.endsWith("endpoints.yaml"));
      const dialed = (parse(file?.content ?? "") as { endpoints: { address: string }[] }).endpoints.map(
        (e) => e.address,
      );
      const grpc = endpoints.targets.flatMap((t) => (t.grpc ? [t.grpc] : []));
      assert.deepEqual(new Set(grpc), new Set(dialed));
      assert.equal(grpc.length, dialed.length);
      const sidecars = endpoints.targets.filter((t) => t.component === "sidecar");
      assert.equal(
        sidecars.length,
        topology.workloads.reduce((n, w) => n + w.replicaNames.length, 0),
      );
      assert.match(endpoints.queryFrontend, /^https:\/\/127\.77\.0\.1:30900$/);
      assert.equal(endpoints.objectStore.accessKey, creds.thanos.accessKey);
    });

    test("the URL table lists query-frontend, query, bucket web, every Prometheus, SeaweedFS and the Alertmanagers", () => {
      const rows = urlTable(topology, plan);
      const whats = rows.map((r) => `${r.cluster} ${r.what}`);
      for (const w of ["query-frontend", "query UI", "bucket web", "Alertmanager"]) {
        assert.ok(whats.includes(`${topology.observer.name} ${w}`), w);
      }
      for (const w of topology.workloads) {
        w.replicaNames.forEach((_, i) => {
          assert.ok(whats.includes(`${w.name} Prometheus replica ${i}`));
        });
        assert.ok(whats.includes(`${w.name} Alertmanager`));
      }
      assert.ok(
        whats.some((x) => x.endsWith("SeaweedFS API (S3)")) &&
          whats.some((x) => x.endsWith("SeaweedFS metrics")),
      );
      for (const r of rows) {
        // Every one is HTTPS: the storage cluster's S3 API asking no certificate, the others the fleet's.
        const scheme = "https";
        assert.match(r.url, new RegExp(`^${scheme}://127\\.77\\.[0-9]+\\.1:3[0-9]{4}$`), r.what);
      }
    });
  });
}

test("a state dir too long for HAProxy's stats socket is refused, naming it", () => {
  const topology = parseFleet(DEFAULT_FLEET, "test");
  const long = `/tmp/${"x".repeat(90)}`;
  assert.throws(
    () => planLocalFleet(topology, creds, long, options, FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS),
    /too long.*--state-dir/,
  );
});

test("local plan with biz2 on receive: its processes follow from the spec, the endpoint in the URL table is HTTPS", () => {
  const { plan, topology } = planOf({
    ...DEFAULT_FLEET,
    clusters: [
      { name: "mgmt", role: "observer" },
      { name: "biz1", role: "workload" },
      { name: "biz2", role: "workload", mode: "receive" },
      { name: "minio", role: "storage" },
    ],
  });
  const count = (cluster: string, component: string) =>
    plan.processes.filter((p) => p.cluster === cluster && p.component === component).length;
  assert.equal(count("mgmt", "receive-router"), 2);
  assert.equal(count("mgmt", "receive-ingester"), 3);
  assert.equal(count("biz2", "sidecar"), 0);
  // Every receive process listens on its own address: no 0.0.0.0 default left (remote write, Cap'n Proto).
  for (const p of plan.processes.filter((x) => x.component.startsWith("receive-"))) {
    for (const flag of [
      "grpc-address",
      "http-address",
      "remote-write.address",
      "receive.capnproto-address",
    ]) {
      assert.ok(
        p.args.some((a) => a.startsWith(`--${flag}=${p.ip}:`)),
        `${p.id}: --${flag}`,
      );
    }
  }
  const row = urlTable(topology, plan).find((r) => r.what.startsWith("remote write"));
  assert.equal(row?.url, "https://127.77.0.1:30907/api/v1/receive");
});
