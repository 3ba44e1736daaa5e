import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SpecContext } from "../components/context.ts";
import { buildFleet, queryEndpoints } from "../components/fleet.ts";
import { podNames } from "../components/types.ts";
import type { FleetEndpoints, LocalSupervision } from "../endpoints.ts";
import { generateCredentials } from "../state/credentials.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { labelSetKey } from "../topology/semantics.ts";
import { fleetQuery } from "./checks/query.ts";
import { expectedRuleGroups, expectedStores, inspectHint, WATCHDOG_ALERT } from "./expect.ts";

const shape: SpecContext = {
  listenHost: "0.0.0.0",
  configDir: (w, c) => `/config/${w}/${c}`,
  dataDir: (w, c) => `/data/${w}/${c}`,
  addresses: {
    service: (cluster, svc, port) => `svc/${cluster}/${svc}:${port}`,
    pod: (cluster, workload, i, port) => `pod/${cluster}/${workload}-${i}:${port}`,
    exposed: (cluster, port) => `node/${cluster}:${port}`,
  },
  objectStore: { endpoint: "s3:9000", bucket: "thanos", insecure: true, accessKey: "a", secretKey: "s" },
  blockDuration: "2h",
  bucketSyncInterval: "3m",
};

const fleets = {
  default: DEFAULT_FLEET,
  "three workload clusters, 3 Prometheus and 3 rulers, extra labels": {
    clusters: [
      { name: "ops", role: "observer", rulerReplicas: 3, queryReplicas: 1 },
      { name: "eu", role: "workload", externalLabels: { region: "eu" }, prometheus: { replicas: 3 } },
      {
        name: "us",
        role: "workload",
        nodePorts: { sidecarGrpc: 31200, sidecarHttp: 31300, prometheus: 30190 },
      },
      {
        name: "ap",
        role: "workload",
        prometheus: { replicas: 1 },
        nodePorts: { sidecarGrpc: 31400, sidecarHttp: 31500, prometheus: 30290 },
      },
      { name: "s3", role: "storage" },
    ],
  },
};

describe("expectedStores agrees with the component specs", () => {
  for (const [name, input] of Object.entries(fleets)) {
    it(name, () => {
      const topology = parseFleet(input, name);
      const expected = expectedStores(topology);
      // As many StoreAPIs as query is given endpoints, one of each kind per endpoint.
      const endpoints = queryEndpoints(topology, shape);
      assert.equal(expected.length, endpoints.length);
      assert.equal(
        expected.filter((e) => e.type === "sidecar").length,
        endpoints.filter((e) => e.startsWith("node/")).length,
      );
      assert.equal(
        expected.filter((e) => e.type === "rule").length,
        endpoints.filter((e) => e.startsWith("pod/")).length,
      );
      assert.equal(expected.filter((e) => e.type === "store").length, 1);
      // The labels each pod serves, as the specs give them.
      const fleet = buildFleet(topology, shape, generateCredentials());
      const served = fleet.pods.flatMap((p) =>
        p.storeLabels
          ? podNames(p)
              .map((pod) => labelSetKey(p.storeLabels?.(pod) ?? {}))
              .filter((k) => k !== "")
          : [],
      );
      assert.deepEqual(
        expected
          .filter((e) => e.labels)
          .map((e) => labelSetKey(e.labels ?? {}))
          .sort(),
        served.sort(),
      );
    });
  }
});

describe("fleetQuery", () => {
  it("groups by every workload label and the replica label, recent samples only", () => {
    const topology = parseFleet(
      fleets["three workload clusters, 3 Prometheus and 3 rulers, extra labels"],
      "x",
    );
    assert.equal(
      fleetQuery(topology.workloads),
      "group by (cluster, region, prometheus_replica) (timestamp(up) > time() - 60)",
    );
  });
});

describe("expectedRuleGroups", () => {
  it("reads the fleet's rule file, watchdog included", () => {
    const groups = expectedRuleGroups();
    assert.equal(groups.length, 1);
    assert.equal(groups[0]?.intervalMs, 15_000);
    assert.ok(groups[0]?.rules.some((r) => r.name === WATCHDOG_ALERT && r.type === "alerting"));
  });
});

describe("inspectHint", () => {
  const topology = parseFleet(DEFAULT_FLEET, "default");
  const kube = { runtime: "kubernetes" } as FleetEndpoints;
  const cases: [string, string, string | undefined, string][] = [
    [
      "thanos-compact-0",
      "mgmt",
      "thanos-compact",
      "run `kubectl --context kind-mgmt -n monitoring logs thanos-compact-0 -c thanos-compact` and `kubectl --context kind-mgmt -n monitoring get pod thanos-compact-0`",
    ],
    [
      "thanos-query-1",
      "mgmt",
      "thanos-query",
      "run `kubectl --context kind-mgmt -n monitoring logs -l app.kubernetes.io/name=thanos-query -c thanos-query` and `kubectl --context kind-mgmt -n monitoring get pods -l app.kubernetes.io/name=thanos-query`",
    ],
    [
      "deploy/kube-prometheus-stack-grafana",
      "biz1",
      "grafana",
      "run `kubectl --context kind-biz1 -n monitoring logs deploy/kube-prometheus-stack-grafana -c grafana` and `kubectl --context kind-biz1 -n monitoring get deploy kube-prometheus-stack-grafana`",
    ],
  ];
  for (const [pod, cluster, container, want] of cases) {
    it(`kubernetes: ${pod}`, () => assert.equal(inspectHint(topology, kube, cluster, pod, container), want));
  }
  it("local: points at status and up", () => {
    assert.match(
      inspectHint(topology, { runtime: "local" } as FleetEndpoints, "biz1", "x"),
      /thanos-fleet status --runtime local/,
    );
  });

  // Each fix is true when printed: the supervisor restarts a dead process only while it runs, and not one held down.
  const local = (running: boolean, held: LocalSupervision["held"] = []) =>
    ({ runtime: "local", supervisor: { running, held } }) as FleetEndpoints;
  const sidecar = ["biz1", "prometheus-0", "thanos-sidecar"] as const;
  it("local, supervisor running: says it restarts the process by itself", () => {
    const hint = inspectHint(topology, local(true), ...sidecar);
    assert.match(hint, /the supervisor does so by itself within its back-off/);
  });
  it("local, supervisor dead: never claims it restarts anything, and says up starts it", () => {
    const hint = inspectHint(topology, local(false), ...sidecar);
    assert.doesNotMatch(hint, /does so by itself/);
    assert.match(hint, /the supervisor, which is not running: nothing restarts a dead process by itself now/);
  });
  it("local, the process held down: says so instead of a restart that will not come", () => {
    const held = [
      { cluster: "biz1", pod: "prometheus-0", container: "thanos-sidecar", component: "sidecar" },
    ];
    const hint = inspectHint(topology, local(true, held), ...sidecar);
    assert.doesNotMatch(hint, /does so by itself/);
    assert.match(hint, /held down on purpose/);
    // Its Prometheus, in the same pod, is not held.
    assert.match(
      inspectHint(topology, local(true, held), "biz1", "prometheus-0", "prometheus"),
      /does so by itself/,
    );
  });
});
