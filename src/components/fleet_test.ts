import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { FAKE_HTTP_TLS } from "../render/testdata/fixtures.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { fleetNodePorts, usesReceive } from "../topology/semantics.ts";
import type { SpecContext } from "./context.ts";
import { buildFleet, deploymentWorkloads, exposedHttpPorts, openings, storeApiServers } from "./fleet.ts";
import { TEST_ADDRESSES, TEST_CREDENTIALS, testContext } from "./testdata/spec.ts";
import { podNames } from "./types.ts";
import { WEB_CONFIG_FILE } from "./web.ts";

const creds = TEST_CREDENTIALS;
const addresses = TEST_ADDRESSES;

function context(topology = parseFleet(DEFAULT_FLEET, "test")): SpecContext {
  return testContext(topology, { demoScript: "demo.js" });
}

function fleetOf(input: unknown) {
  const topology = parseFleet(input, "test");
  return { topology, fleet: buildFleet(topology, context(topology), creds) };
}

const fourWorkloads = {
  clusters: [
    { name: "mgmt", role: "observer" },
    ...["a", "b", "c", "d"].map((name) => ({ name, role: "workload", prometheus: { replicas: 3 } })),
    { name: "minio", role: "storage" },
  ],
};

function endpointAddresses(fleet: ReturnType<typeof fleetOf>["fleet"]): string[] {
  const query = fleet.pods.find((p) => p.name === "thanos-query")?.containers[0];
  const file = query?.files.find((f) => f.name === "endpoints.yaml");
  assert.ok(file, "query has no endpoints.yaml");
  return (parse(file.content) as { endpoints: { address: string }[] }).endpoints.map((e) => e.address);
}

function argsOf(fleet: ReturnType<typeof fleetOf>["fleet"], workload: string): string[] {
  const pod = fleet.pods.find((p) => p.name === workload);
  assert.ok(pod, `no pod ${workload}`);
  return pod.containers.flatMap((c) => c.args);
}

describe("component specs", () => {
  for (const [name, input] of [
    ["default fleet", DEFAULT_FLEET],
    ["four workload clusters with three replicas", fourWorkloads],
  ] as const) {
    test(`${name}: query dials each sidecar replica exactly once, plus the store gateway and each ruler`, () => {
      const { topology, fleet } = fleetOf(input);
      const endpoints = endpointAddresses(fleet);
      const expected = [
        ...topology.workloads.flatMap((w) =>
          w.replicaNames.map((_, i) => `node.${w.name}:${w.nodePorts.sidecarGrpc + i}`),
        ),
        "svc.thanos-store.mgmt:10901",
        "pod.thanos-ruler-0.mgmt:10901",
        "pod.thanos-ruler-1.mgmt:10901",
      ];
      assert.deepEqual(endpoints, expected);
      assert.equal(new Set(endpoints).size, endpoints.length);
    });

    test(`${name}: every Service selects pods that exist and targets ports they serve`, () => {
      const { fleet } = fleetOf(input);
      for (const svc of fleet.services) {
        const pod = fleet.pods.find((p) => p.cluster === svc.cluster && p.name === svc.selector.workload);
        assert.ok(pod, `${svc.cluster}/${svc.name} selects no workload`);
        if (svc.selector.pod)
          assert.ok(podNames(pod).includes(svc.selector.pod), `${svc.name}: no pod ${svc.selector.pod}`);
        const served = pod.containers.flatMap((c) => c.ports.map((p) => p.port));
        for (const port of svc.ports)
          assert.ok(served.includes(port.targetPort), `${svc.name}:${port.targetPort} not served`);
      }
    });
  }

  test("only current flags: an endpoint config file, neither the removed --store nor the deprecated --endpoint", () => {
    const { fleet } = fleetOf(DEFAULT_FLEET);
    const all = fleet.pods.flatMap((p) => p.containers.flatMap((c) => c.args));
    assert.deepEqual(
      all.filter((a) => /^--(store|endpoint)(=|$)/.test(a)),
      [],
    );
    assert.ok(
      argsOf(fleet, "thanos-query").includes(
        "--endpoint.sd-config-file=/cfg/thanos-query/thanos-query/endpoints.yaml",
      ),
    );
  });

  test("query deduplicates on both replica labels", () => {
    const args = argsOf(fleetOf(DEFAULT_FLEET).fleet, "thanos-query");
    assert.ok(args.includes("--query.replica-label=prometheus_replica"));
    assert.ok(args.includes("--query.replica-label=ruler_replica"));
  });

  test("exactly one compactor per bucket", () => {
    const compactors = fleetOf(fourWorkloads).fleet.pods.filter((p) =>
      p.containers.some((c) => c.component === "compact"),
    );
    assert.equal(compactors.length, 1);
    assert.equal(compactors[0]?.replicas, 1);
  });

  test("the ruler queries the query Service and alerts an Alertmanager that exists in mgmt", () => {
    const { fleet } = fleetOf(DEFAULT_FLEET);
    const args = argsOf(fleet, "thanos-ruler");
    assert.ok(args.includes("--query=http://svc.thanos-query.mgmt:10902"));
    assert.ok(args.includes("--alertmanagers.url=http://svc.alertmanager.mgmt:9093"));
    assert.ok(fleet.services.some((s) => s.cluster === "mgmt" && s.name === "alertmanager"));
    assert.ok(fleet.pods.some((p) => p.cluster === "mgmt" && p.name === "alertmanager"));
    assert.ok(args.includes('--label=ruler_replica="$(POD_NAME)"'));
  });

  test("the ruler carries only its replica label, so the series its rules record keep their own cluster", () => {
    const args = argsOf(fleetOf(DEFAULT_FLEET).fleet, "thanos-ruler");
    assert.deepEqual(
      args.filter((a) => a.startsWith("--label=")),
      ['--label=ruler_replica="$(POD_NAME)"'],
    );
  });

  test("one Thanos version everywhere, the sidecar included", () => {
    const { fleet } = fleetOf({ ...DEFAULT_FLEET, versions: { thanos: "v0.42.4" } });
    const images = fleet.pods.flatMap((p) =>
      p.containers.filter((c) => c.binary === "thanos").map((c) => c.image),
    );
    assert.ok(images.length > 0);
    assert.deepEqual(new Set(images), new Set(["quay.io/thanos/thanos:v0.42.4"]));
  });

  test("objstore config: bucket-scoped Thanos key, endpoint host:port without scheme, kept in a secret file", () => {
    const { fleet } = fleetOf(DEFAULT_FLEET);
    const files = fleet.pods
      .flatMap((p) => p.containers.flatMap((c) => c.files))
      .filter((f) => f.name === "objstore.yml");
    assert.ok(files.length > 0);
    for (const f of files) {
      assert.equal(f.secret, true);
      assert.match(f.content, /endpoint: node\.minio:32000\n/);
      assert.match(f.content, /access_key: thanos-test/);
      assert.doesNotMatch(f.content, /root-test/);
    }
  });

  test("every readiness probe names a port its container serves", () => {
    for (const pod of fleetOf(fourWorkloads).fleet.pods) {
      for (const c of pod.containers) {
        assert.ok(
          c.ports.some((p) => p.name === c.readiness.port),
          `${pod.name}/${c.name}`,
        );
      }
    }
  });
});

/** biz1 on sidecars with one replica, biz2 on receive with three. */
const mixedModes = {
  clusters: [
    { name: "mgmt", role: "observer" },
    { name: "biz1", role: "workload", prometheus: { replicas: 1 } },
    { name: "biz2", role: "workload", mode: "receive", prometheus: { replicas: 3 } },
    { name: "minio", role: "storage" },
  ],
};

describe("the facts each component module states agree with its pods and Services", () => {
  for (const [name, input] of Object.entries({
    default: DEFAULT_FLEET,
    "four workload clusters": fourWorkloads,
    "sidecar and receive clusters": mixedModes,
  })) {
    test(`${name}: the NodePorts the Services open are those fleet.yaml's validation reserves, replica ranges included`, () => {
      const { topology, fleet } = fleetOf(input);
      for (const c of topology.fleet.clusters) {
        const opened = fleet.services
          .filter((s) => s.cluster === c.name)
          .flatMap((s) => s.ports.flatMap((p) => (p.nodePort === undefined ? [] : [p.nodePort])));
        // Grafana is the chart's alone: no Service of the spec stands for it.
        const chart = openings(topology, "kubernetes")
          .filter((o) => o.cluster === c.name && o.name === "grafana")
          .map((o) => o.nodePort);
        assert.deepEqual(
          [...opened, ...chart].sort(),
          fleetNodePorts(topology.fleet, c)
            .map((p) => p.port)
            .sort(),
          c.name,
        );
      }
    });

    test(`${name}: the pages up lists are the UIs the modules mark, not an API nor each Prometheus replica`, () => {
      const { topology } = fleetOf(input);
      const pages = openings(topology, "kubernetes").filter((o) => o.ui);
      const names = [...new Set(pages.map((o) => o.name))];
      assert.deepEqual(names, [
        "query-frontend",
        "query",
        "bucket-web",
        "alertmanager",
        "grafana",
        "minio-console",
      ]);
    });

    test(`${name}: every port a person opens is a NodePort of one of its cluster's Services`, () => {
      const { topology, fleet } = fleetOf(input);
      for (const runtime of ["kubernetes", "local"] as const) {
        for (const o of openings(topology, runtime)) {
          // Grafana is the chart's alone: no Service of the spec stands for it.
          if (o.name === "grafana") continue;
          const exposed = fleet.services
            .filter((s) => s.cluster === o.cluster)
            .flatMap((s) => s.ports.map((p) => p.nodePort));
          assert.ok(exposed.includes(o.nodePort), `${runtime}: ${o.cluster}/${o.name} on ${o.nodePort}`);
        }
      }
    });

    test(`${name}: query is given each StoreAPI server's address, and each is a pod of the fleet`, () => {
      const { topology, fleet } = fleetOf(input);
      const servers = storeApiServers(topology);
      assert.deepEqual(
        endpointAddresses(fleet),
        servers.map((s) => s.address(addresses)),
      );
      for (const s of servers) {
        const pod = fleet.pods.find((p) => p.cluster === s.cluster && podNames(p).includes(s.pod));
        assert.ok(pod, `${s.cluster}/${s.pod} is no pod of the fleet`);
        assert.ok(
          pod.containers.some((c) => c.name === s.container && c.component === s.component),
          `${s.cluster}/${s.pod} has no ${s.component} container ${s.container}`,
        );
        assert.ok(pod.storeLabels, `${s.cluster}/${s.pod} serves the StoreAPI but states no store labels`);
      }
    });

    test(`${name}: what keeps data on Kubernetes is a StatefulSet, and start stages follow the dependencies`, () => {
      const { topology, fleet } = fleetOf(input);
      for (const p of fleet.pods) {
        if (p.containers.some((c) => c.dataDir !== undefined))
          assert.ok(p.stateful, `${p.cluster}/${p.name}`);
      }
      const stage = (workload: string) =>
        fleet.pods.find((p) => p.name === workload && p.cluster === topology.observer.name)?.stage ?? 0;
      assert.ok(
        stage("thanos-store") < stage("thanos-query"),
        "query starts after the store gateway it dials",
      );
      assert.ok(
        stage("alertmanager") < stage("thanos-ruler"),
        "the ruler starts after the Alertmanager it sends to",
      );
      assert.ok(stage("thanos-query") < stage("thanos-query-frontend"), "query-frontend starts after query");
      // Deployments on Kubernetes: their pods get random names, which verify's hints allow for.
      assert.deepEqual(deploymentWorkloads(topology).sort(), [
        "thanos-bucket-web",
        "thanos-query",
        "thanos-query-frontend",
        ...(usesReceive(topology.fleet) ? ["thanos-receive-router"] : []),
      ]);
    });
  }
});

describe("HTTPS on the HTTP ports that leave a cluster (tls.http)", () => {
  const topology = parseFleet(DEFAULT_FLEET, "test");
  const ctx: SpecContext = { ...context(topology), httpTls: FAKE_HTTP_TLS };
  const fleet = buildFleet(topology, ctx, creds);
  const plain = buildFleet(topology, context(topology), creds);

  test("every HTTP NodePort but the storage cluster's S3 API serves HTTPS asking for the fleet's client certificate", () => {
    const exposed = exposedHttpPorts(fleet);
    assert.deepEqual([...new Set(exposed.map((e) => e.component))].sort(), [
      "alertmanager",
      "bucket-web",
      "compact",
      "prometheus",
      "query",
      "query-frontend",
      "sidecar",
      "storage-metrics",
    ]);
    assert.ok(
      exposed.every((e) => e.tls),
      JSON.stringify(exposed.filter((e) => !e.tls)),
    );
    for (const e of exposed) {
      const pod = fleet.pods.find(
        (p) => p.cluster === e.cluster && p.containers.some((c) => c.component === e.component),
      );
      const c = pod?.containers.find((x) => x.component === e.component);
      assert.ok(c, `${e.cluster}/${e.component}`);
      const web = c.files.find((f) => f.name === WEB_CONFIG_FILE);
      assert.ok(web, `${e.cluster}/${c.name} has no web config`);
      const config = parse(web.content);
      assert.equal(config.tls_server_config.client_auth_type, "RequireAndVerifyClientCert");
      assert.ok(
        c.args.some((a) => /^--(http\.config|web\.config\.file)=.*web-config\.yaml$/.test(a)),
        c.name,
      );
      assert.equal(c.readiness.tls, true);
      assert.equal(c.files.find((f) => f.name === "http-tls.key")?.secret, true);
    }
    // Without tls.http, the guide's layout: no TLS in any web config (query-frontend's keeps its rate limit alone), the
    // same ports exposed.
    assert.ok(exposedHttpPorts(plain).every((e) => !e.tls));
    assert.equal(exposedHttpPorts(plain).length, exposed.length);
    const plainWeb = plain.pods.flatMap((p) =>
      p.containers.flatMap((c) => c.files.filter((f) => f.name === WEB_CONFIG_FILE).map((f) => [c.name, f])),
    );
    assert.deepEqual(
      plainWeb.map(([name, f]) => [name, parse((f as { content: string }).content)]),
      [["thanos-query-frontend", { rate_limit: { interval: "250ms", burst: 64 } }]],
    );
  });

  test("the fleet's own clients of those ports use HTTPS with the fleet's client certificate", () => {
    const container = (name: string) => fleet.pods.flatMap((p) => p.containers).find((c) => c.name === name);
    const fileOf = (name: string, file: string) =>
      parse(container(name)?.files.find((f) => f.name === file)?.content ?? "");
    const clientTls = {
      ca_file: "/cfg/thanos-query-frontend/thanos-query-frontend/http-ca.crt",
      cert_file: "/cfg/thanos-query-frontend/thanos-query-frontend/http-client.crt",
      key_file: "/cfg/thanos-query-frontend/thanos-query-frontend/http-client.key",
      server_name: "thanos-fleet-http",
    };
    assert.ok(
      container("thanos-query-frontend")?.args.includes(
        "--query-frontend.downstream-url=https://svc.thanos-query.mgmt:10902",
      ),
    );
    assert.deepEqual(fileOf("thanos-query-frontend", "downstream-tripper.yaml").tls_config, clientTls);
    assert.equal(fileOf("thanos-ruler", "query.yaml")[0].scheme, "https");
    assert.deepEqual(fileOf("thanos-ruler", "query.yaml")[0].static_configs, ["svc.thanos-query.mgmt:10902"]);
    assert.equal(fileOf("thanos-ruler", "alertmanagers.yaml").alertmanagers[0].scheme, "https");
    assert.ok(container("thanos-sidecar")?.args.some((a) => a.startsWith("--prometheus.url=https://")));
    const prom = fileOf("prometheus", "prometheus.yml");
    for (const job of prom.scrape_configs.filter((j: { job_name: string }) =>
      ["prometheus", "thanos-sidecar", "alertmanager", "thanos-compact"].includes(j.job_name),
    )) {
      assert.equal(job.scheme, "https", job.job_name);
      assert.equal(job.tls_config.server_name, "thanos-fleet-http", job.job_name);
    }
    assert.equal(prom.alerting.alertmanagers[0].scheme, "https");
  });
});
