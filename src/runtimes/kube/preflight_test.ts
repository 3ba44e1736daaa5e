import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FakeWorld } from "../../../testing/kube/fake-world.ts";
import { NAMESPACE } from "../../components/context.ts";
import { resourcesFor } from "../../components/resources.ts";
import { SIDECAR_SIZING } from "../../components/thanos/sidecar.ts";
import { RELEASE } from "../../render/helm.ts";
import { renderFleet } from "../../render/render.ts";
import { receiveTopology } from "../../render/testdata/fixtures.ts";
import { parseFleetYaml } from "../../topology/load.ts";
import type { Topology } from "../../topology/topology.ts";
import { FIELD_MANAGER, MANAGED_BY_LABEL } from "./api.ts";
import { memoryNeeded, PreflightError, parseQuantity, parseVersion, preflight } from "./preflight.ts";
import {
  addCloudClusters,
  defaultTopology,
  fakeRenderOptions,
  TESTDATA,
  topologyOf,
} from "./testdata/fixtures.ts";

function run(world: FakeWorld, topology: Topology, platform: NodeJS.Platform = "linux") {
  const fleet = renderFleet(topology, { ...fakeRenderOptions(topology) });
  return preflight(topology, fleet.clusters, {
    exec: world.exec,
    api: world.api,
    platform,
    readSysctl: async (name) => world.sysctl[name],
    contextTimeoutMs: 50,
  });
}

async function problems(
  world: FakeWorld,
  topology: Topology = defaultTopology(),
  platform?: NodeJS.Platform,
) {
  try {
    await run(world, topology, platform);
  } catch (error) {
    if (error instanceof PreflightError) return error;
    throw error;
  }
  return undefined;
}

describe("preflight: each failure says what is wrong and how to fix it", () => {
  const cases: { name: string; set: (w: FakeWorld) => void; message: RegExp; fix: RegExp }[] = [
    {
      name: "Docker daemon down",
      set: (w) => {
        w.dockerRunning = false;
      },
      message:
        /^Docker daemon not reachable: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker.sock\. Is the docker daemon running\?$/,
      fix: /start Docker .*'docker info'/,
    },
    {
      name: "docker missing",
      set: (w) => w.missing.add("docker"),
      message: /^docker was not found on PATH$/,
      fix: /docs.docker.com/,
    },
    {
      name: "kind missing",
      set: (w) => w.missing.add("kind"),
      message: /^kind was not found on PATH$/,
      fix: /install kind v0.32.0/,
    },
    {
      name: "kind too old",
      set: (w) => {
        w.versions.kind = "kind v0.24.0 go1.22.6 linux/amd64";
      },
      message: /kind v0.24.0 .* is older than v0.32.0, whose node image the fleet uses/,
      fix: /install kind v0.32.0/,
    },
    {
      name: "kubectl missing",
      set: (w) => w.missing.add("kubectl"),
      message: /^kubectl was not found on PATH$/,
      fix: /kubernetes.io\/docs\/tasks\/tools/,
    },
    {
      name: "helm missing",
      set: (w) => w.missing.add("helm"),
      message: /^helm was not found on PATH$/,
      fix: /Helm 3 or 4/,
    },
    {
      name: "Helm 2",
      set: (w) => {
        w.versions.helm = "Client: v2.17.0+ga690bad";
      },
      message: /is not supported \(Helm 3 from v3.12.0, or Helm 4\)/,
      fix: /Helm 3 or 4/,
    },
    {
      name: "an old Helm 3",
      set: (w) => {
        w.versions.helm = "v3.8.2+g6e3701e";
      },
      message: /helm v3.8.2\+g6e3701e is not supported/,
      fix: /helm.sh/,
    },
    {
      name: "too little memory for Docker",
      set: (w) => {
        w.dockerMemBytes = 4 * 1024 ** 3;
      },
      message:
        /^Docker can use 4.0 GiB of memory; the fleet's 4 kind clusters need about \d+\.\d GiB \(profile small\)$/,
      fix: /Settings → Resources → Memory/,
    },
    {
      name: "inotify watches too low",
      set: (w) => {
        w.sysctl["fs/inotify/max_user_watches"] = "8192\n";
      },
      message: /^fs\.inotify\.max_user_watches is 8192; kind needs at least 524288/,
      fix: /sudo sysctl fs\.inotify\.max_user_watches=524288/,
    },
    {
      name: "inotify instances too low",
      set: (w) => {
        w.sysctl["fs/inotify/max_user_instances"] = "128\n";
      },
      message: /^fs\.inotify\.max_user_instances is 128; kind needs at least 512/,
      fix: /\/etc\/sysctl.d\/99-kind.conf/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const world = new FakeWorld();
      c.set(world);
      const error = await problems(world);
      assert.ok(error, "preflight must fail");
      assert.equal(error.problems.length, 1, error.message);
      const [p] = error.problems;
      assert.match(p?.message ?? "", c.message);
      assert.match(p?.fix ?? "", c.fix);
      assert.match(error.message, /nothing was created/);
      assert.ok(
        !world.recorder.lines.some((l) => /kind create|apply|helm upgrade/.test(l)),
        "preflight creates nothing",
      );
    });
  }

  it("lists every problem at once", async () => {
    const world = new FakeWorld();
    world.dockerRunning = false;
    world.missing.add("helm");
    world.sysctl["fs/inotify/max_user_instances"] = "128";
    const error = await problems(world);
    assert.deepEqual(
      error?.problems.map((p) => p.check),
      ["docker", "helm", "inotify"],
    );
  });

  it("passes on a machine that has it all; Helm 4 is supported", async () => {
    const world = new FakeWorld();
    world.versions.helm = "v4.0.1+g12500dd";
    const result = await run(world, defaultTopology());
    assert.deepEqual(result.warnings, []);
    assert.ok(result.facts.includes("helm v4.0.1+g12500dd"));
    assert.ok(result.facts.some((f) => /^Docker 28.5.1: 16.0 GiB memory, 8 CPUs$/.test(f)));
  });

  it("warns, without stopping, about a kubectl more than one minor version away", async () => {
    const world = new FakeWorld();
    world.versions.kubectl = "v1.32.4";
    const result = await run(world, defaultTopology());
    assert.deepEqual(result.warnings, [
      "kubectl v1.32.4 is more than one minor version away from the clusters' Kubernetes v1.36",
    ]);
  });

  it("skips the inotify limits off Linux (Docker Desktop runs its own VM)", async () => {
    const world = new FakeWorld();
    world.sysctl["fs/inotify/max_user_watches"] = "8192";
    assert.equal(await problems(world, defaultTopology(), "darwin"), undefined);
  });
});

describe("preflight for existing clusters", () => {
  it("needs neither Docker nor kind, and asks each context to answer", async () => {
    const world = new FakeWorld();
    world.dockerRunning = false;
    world.missing.add("kind");
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    await run(world, await topologyOf("load-balancer.yaml"));
    assert.deepEqual(world.recorder.lines, [
      "$ kubectl version --client -o json",
      "$ helm version --short",
      "cloud-mgmt: list v1 Node",
      "cloud-us1: list v1 Node",
      "cloud-mgmt: list v1 Service",
      "cloud-us1: list v1 Service",
    ]);
  });

  it("a NodePort the fleet plans that another Service holds, named with its fleet.yaml field", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    for (const name of ["default", NAMESPACE]) {
      await world
        .fakeApi("cloud-us1")
        .serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
    const service = (
      namespace: string,
      name: string,
      nodePort: number,
      labels: Record<string, string> = {},
    ) =>
      world.fakeApi("cloud-us1").serverSideApply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { namespace, name, labels },
        spec: { type: "NodePort", ports: [{ port: 80, nodePort }] },
      });
    await service("default", "their-app", 31001);
    await service("default", "their-grafana", 30300);
    await service("default", "unrelated", 32500);
    // The fleet's own, from an earlier up: its applied Services and those of its chart release.
    await service(NAMESPACE, "thanos-sidecar-0", 31000, { [MANAGED_BY_LABEL]: FIELD_MANAGER });
    await service(NAMESPACE, "kube-prometheus-stack-alertmanager", 30903, { release: RELEASE });
    const error = await problems(world, await topologyOf("load-balancer.yaml"));
    assert.deepEqual(
      error?.problems.map((p) => [p.message, p.fix]),
      [
        [
          "cluster us1: NodePort 31001 (clusters[1].nodePorts.sidecarGrpc + 1) is held by Service default/their-app in context cloud-us1",
          "set a free port for clusters[1].nodePorts.sidecarGrpc in fleet.yaml, or remove Service default/their-app",
        ],
        [
          "cluster us1: NodePort 30300 (clusters[1].nodePorts.grafana) is held by Service default/their-grafana in context cloud-us1",
          "set a free port for clusters[1].nodePorts.grafana in fleet.yaml, or remove Service default/their-grafana",
        ],
      ],
    );
  });

  it("tls.issuer: a context without cert-manager, or without the Issuer, before anything is created", async () => {
    const yaml = (await readFile(join(TESTDATA, "load-balancer.yaml"), "utf8")).replace(
      "clusters:",
      "tls:\n  issuer: {name: fleet-ca, ca: ca.pem}\nclusters:",
    );
    const topology = parseFleetYaml(yaml, join(TESTDATA, "issuer.yaml"));
    const check = async (world: FakeWorld) => {
      const fleet = renderFleet(topology, { ...fakeRenderOptions(topology), issuerCa: "fake-issuer-ca\n" });
      try {
        await preflight(topology, fleet.clusters, {
          exec: world.exec,
          api: world.api,
          platform: "linux",
          readSysctl: async (name) => world.sysctl[name],
          contextTimeoutMs: 50,
        });
      } catch (error) {
        if (error instanceof PreflightError) return error.problems.map((p) => `${p.message} | ${p.fix}`);
        throw error;
      }
      return [];
    };
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    assert.deepEqual(await check(world), [
      "cluster mgmt: context cloud-mgmt has no cert-manager (no CRD certificates.cert-manager.io), which tls.issuer needs | install cert-manager there with ClusterIssuer fleet-ca (signing with the CA of tls.issuer.ca), or remove tls.issuer",
      "cluster us1: context cloud-us1 has no cert-manager (no CRD certificates.cert-manager.io), which tls.issuer needs | install cert-manager there with ClusterIssuer fleet-ca (signing with the CA of tls.issuer.ca), or remove tls.issuer",
    ]);
    for (const context of ["cloud-mgmt", "cloud-us1"]) {
      await world.fakeApi(context).serverSideApply({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "certificates.cert-manager.io" },
      });
    }
    await world.fakeApi("cloud-mgmt").serverSideApply({
      apiVersion: "cert-manager.io/v1",
      kind: "ClusterIssuer",
      metadata: { name: "fleet-ca" },
    });
    assert.deepEqual(await check(world), [
      "cluster us1: context cloud-us1 has no ClusterIssuer fleet-ca (fleet.yaml's tls.issuer) | create it there (the same CA in every cluster of the fleet: tls.issuer.ca), or name another in tls.issuer",
    ]);
  });

  it("with a receive-mode cluster, the remote-write endpoint's NodePort is checked too, named by its field", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    await world
      .fakeApi("cloud-mgmt")
      .serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
    await world.fakeApi("cloud-mgmt").serverSideApply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { namespace: "default", name: "their-writer" },
      spec: { type: "NodePort", ports: [{ port: 80, nodePort: 30907 }] },
    });
    const sidecars = await topologyOf("load-balancer.yaml");
    // Without receive, 30907 is no port of the fleet's.
    assert.equal(await problems(world, sidecars), undefined);
    const text = `${await readFile(join(TESTDATA, "load-balancer.yaml"), "utf8")}    mode: receive\n`;
    const error = await problems(world, parseFleetYaml(text, "load-balancer.yaml"));
    assert.deepEqual(
      error?.problems.map((p) => [p.message, p.fix]),
      [
        [
          "cluster mgmt: NodePort 30907 (clusters[0].receive.nodePort) is held by Service default/their-writer in context cloud-mgmt",
          "set a free port for clusters[0].receive.nodePort in fleet.yaml, or remove Service default/their-writer",
        ],
      ],
    );
  });

  it("a context that may not list Services gets a warning, not a failure", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    world.fakeApi("cloud-us1").list = () => Promise.reject(new Error("services is forbidden"));
    const result = await run(world, await topologyOf("load-balancer.yaml"));
    assert.deepEqual(result.warnings, [
      "cluster us1: cannot list Services to check NodePorts: services is forbidden",
    ]);
  });

  it("a context missing from the kubeconfig", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt"]);
    const error = await problems(world, await topologyOf("load-balancer.yaml"));
    assert.equal(error?.problems.length, 1);
    assert.match(
      error?.problems[0]?.message ?? "",
      /^cluster us1: kube context 'cloud-us1' is not in kubeconfig .* \(contexts there: cloud-mgmt\)/,
    );
    assert.match(error?.problems[0]?.fix ?? "", /kubectl config get-contexts/);
  });

  it("a context that does not answer, or answers with an error", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    world.fakeApi("cloud-mgmt").listNodes = () => new Promise(() => {});
    world.fakeApi("cloud-us1").listNodes = () =>
      Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
    const error = await problems(world, await topologyOf("load-balancer.yaml"));
    assert.deepEqual(
      error?.problems.map((p) => p.message),
      [
        "cluster mgmt: context cloud-mgmt does not answer: no answer within 0.05s",
        "cluster us1: context cloud-us1 does not answer: connect ECONNREFUSED 127.0.0.1:6443",
      ],
    );
    assert.match(error?.problems[0]?.fix ?? "", /kubectl --context cloud-mgmt get nodes/);
  });
});

describe("what the fleet needs", () => {
  it("memory grows with the workload clusters and their replicas", async () => {
    const small = defaultTopology();
    const four = await topologyOf("four-workloads.yaml");
    const need = (t: Topology) => memoryNeeded(t, renderFleet(t, { ...fakeRenderOptions(t) }).clusters);
    assert.ok(need(four) > need(small));
    // Four kind clusters of two nodes each, before any workload.
    assert.ok(need(small) > 4 * (600 + 200) * 1024 ** 2);
  });

  it("a receive-mode cluster's chart pods count no sidecar: the component spec, not a list, says what runs", async () => {
    const sidecars = defaultTopology();
    const receive = receiveTopology();
    const need = (t: Topology) => memoryNeeded(t, renderFleet(t, { ...fakeRenderOptions(t) }).clusters);
    const workload = (t: Topology, name: string) => {
      const rc = renderFleet(t, { ...fakeRenderOptions(t) }).clusters.find((c) => c.cluster === name);
      assert.ok(rc);
      return memoryNeeded(t, [rc]);
    };
    const sidecarMiB = parseQuantity(resourcesFor(SIDECAR_SIZING, "small").requests.memory);
    // biz2's two replicas lose their sidecars; mgmt gains the routers and ingesters.
    assert.equal(workload(sidecars, "biz2") - workload(receive, "biz2"), 2 * sidecarMiB);
    assert.ok(need(receive) > need(sidecars));
  });

  it("parses Kubernetes quantities and tool versions", () => {
    const table: [string, number][] = [
      ["64Mi", 64 * 1024 ** 2],
      ["1Gi", 1024 ** 3],
      ["500M", 500e6],
      ["100m", 0.1],
      ["1e3", 1000],
    ];
    for (const [q, bytes] of table) assert.equal(parseQuantity(q), bytes, q);
    assert.throws(() => parseQuantity("lots"), /'lots' is not a Kubernetes quantity/);
    assert.deepEqual(parseVersion("kind v0.32.0 go1.25.5 linux/amd64"), [0, 32, 0]);
    assert.deepEqual(parseVersion("v4.0.1+g12500dd"), [4, 0, 1]);
    assert.equal(parseVersion("unknown"), undefined);
  });
});
