// The apply path against real API servers (etcd + kube-apiserver v1.36, one per simulated cluster, no kubelet):
// what render produces is admitted by server-side apply, converges, gets the planned NodePorts, keeps credentials
// in Secrets, and follows node addresses when they change. Pods never run here (there is no kubelet and no
// controller-manager): this is API-level convergence only; kind and helm keep their recorded-call tests.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, type KubeConfig, type V1ServicePort } from "@kubernetes/client-node";
import { isExecutableFile } from "../../binaries/cache.ts";
import { binaryPath } from "../../binaries/resolve.ts";
import { fleetFiles } from "../../render/files.ts";
import { renderFleet } from "../../render/render.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "../../render/types.ts";
import { type Credentials, generateCredentials } from "../../state/credentials.ts";
import {
  type ControlPlane,
  startControlPlane,
  startControlPlanes,
} from "../../testing/envtest/controlplane.ts";
import { kindNodeNames, registerKindNodes } from "../../testing/envtest/nodes.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet, parseFleetYaml } from "../../topology/load.ts";
import type { Topology } from "../../topology/topology.ts";
import {
  createKubeApi,
  FIELD_MANAGER,
  type KubeApi,
  loadKubeConfig,
  MANAGED_BY_LABEL,
  refOf,
} from "./api.ts";
import { applyObjects } from "./apply.ts";
import { discoverAddresses } from "./discover.ts";
import { clusterState, emptyState, type KubeState } from "./state.ts";
import { realClock } from "./wait.ts";

const missing = (["etcd", "kube-apiserver"] as const).filter((n) => !isExecutableFile(binaryPath(n)));
const skip =
  missing.length > 0
    ? `not built: ${missing.join(", ")}; run npm run binaries -- etcd kube-apiserver`
    : false;

const FOUR_WORKLOADS = `
bucket: thanos
clusters:
  - { name: mgmt, role: observer, context: ctx-mgmt }
  - { name: biz1, role: workload, context: ctx-biz1 }
  - { name: biz2, role: workload, context: ctx-biz2 }
  - { name: biz3, role: workload, context: ctx-biz3, prometheus: { replicas: 3 } }
  - { name: biz4, role: workload, context: ctx-biz4, nodePorts: { sidecarGrpc: 31500, sidecarHttp: 31600, prometheus: 30190 } }
  - { name: minio, role: storage, context: ctx-minio }
`;

const CASES: { title: string; topology: () => Topology }[] = [
  { title: "the default fleet", topology: () => parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE) },
  {
    title: "four workload clusters on existing contexts",
    topology: () => parseFleetYaml(FOUR_WORKLOADS, "four.yaml"),
  },
];

/** Namespace first, then the Secrets, then the rest in render's order: nothing refers to what is not there yet. */
function applyOrder(rc: RenderedCluster): KubeObject[] {
  const [ns, ...rest] = rc.manifests;
  assert.equal(ns?.kind, "Namespace", `${rc.cluster}: manifests start with the Namespace`);
  return [ns as KubeObject, ...rc.secrets, ...rest];
}

async function applyCluster(api: KubeApi, rc: RenderedCluster, state: KubeState): Promise<void> {
  await applyObjects(api, applyOrder(rc), clusterState(state, rc.cluster, rc.context), { clock: realClock });
}

/** An object as text, with a Secret's data decoded: what a reader of the cluster would find in it. */
function liveText(o: KubeObject | undefined): string {
  if (o?.kind !== "Secret") return JSON.stringify(o);
  const data = (o.data ?? {}) as Record<string, string>;
  return JSON.stringify({
    ...o,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()])),
  });
}

const key = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** resourceVersion and uid of every rendered object as the API server holds it. */
async function snapshot(
  api: KubeApi,
  rc: RenderedCluster,
): Promise<Map<string, { rv: string; uid: string }>> {
  const out = new Map<string, { rv: string; uid: string }>();
  for (const o of applyOrder(rc)) {
    const live = await api.get(refOf(o));
    assert.ok(live, `${rc.cluster}: ${key(o)} is not in the API server`);
    out.set(key(o), { rv: String(live.metadata.resourceVersion), uid: String(live.metadata.uid) });
  }
  return out;
}

/** The NodePorts a cluster's own objects must hold, read from the topology, not from what render made of it. */
function plannedNodePorts(topology: Topology, cluster: string): number[] {
  const c = topology.fleet.clusters.find((x) => x.name === cluster);
  assert.ok(c);
  if (c.role === "observer") {
    const p = c.nodePorts;
    return [p.queryFrontend, p.query, p.bucketWeb, p.alertmanager];
  }
  if (c.role === "storage") return [c.nodePorts.api, c.nodePorts.console];
  // Grafana's and Alertmanager's NodePorts in a workload cluster belong to the chart, which helm installs.
  const p = c.nodePorts;
  return Array.from({ length: c.prometheus.replicas }, (_, i) => [
    p.sidecarGrpc + i,
    p.sidecarHttp + i,
    p.prometheus + i,
  ]).flat();
}

interface World {
  topology: Topology;
  creds: Credentials;
  fleet: Awaited<ReturnType<typeof startControlPlanes>>;
  apis: Map<string, KubeApi>;
  configs: Map<string, KubeConfig>;
  state: KubeState;
  /** Node IPs per cluster, control plane first, as last registered. */
  nodeIPs: Map<string, string[]>;
}

/** kind's node layout from the rendered kind config, else a control plane and two workers. */
function nodeCount(rc: RenderedCluster): number {
  const nodes = (rc.kindConfig as { nodes?: unknown[] } | undefined)?.nodes;
  return nodes?.length ?? 3;
}

/** Registers every cluster's Nodes with addresses from `firstIP` on, in cluster order, as Docker hands them out. */
async function registerNodes(
  w: World,
  rendered: RenderedFleet,
  order: RenderedCluster[],
  firstIP: number,
): Promise<void> {
  let next = firstIP;
  for (const rc of order) {
    const names = kindNodeNames(rc.cluster, nodeCount(rc) - 1);
    const ips = names.map(() => `172.18.0.${next++}`);
    const kc = w.configs.get(rc.context);
    assert.ok(kc);
    await registerKindNodes(
      kc,
      rc.cluster,
      names.map((name, i) => ({ name, internalIP: ips[i] as string, controlPlane: i === 0 })),
    );
    w.nodeIPs.set(rc.cluster, ips);
  }
  assert.equal(order.length, rendered.clusters.length);
}

function discover(w: World, rendered: RenderedFleet) {
  const serviceType = new Map(w.topology.fleet.clusters.map((c) => [c.name, c.serviceType]));
  return discoverAddresses({
    clusters: rendered.clusters,
    serviceType: (c) => serviceType.get(c) ?? "NodePort",
    api: (context) => {
      const api = w.apis.get(context);
      assert.ok(api, `no API for context ${context}`);
      return api;
    },
    clock: realClock,
    loadBalancerTimeoutMs: 1000,
  });
}

for (const c of CASES) {
  describe(`server-side apply against real API servers: ${c.title}`, { skip }, () => {
    let w: World;
    let rendered: RenderedFleet;

    before(async () => {
      const topology = c.topology();
      const creds = generateCredentials();
      // Without discovered addresses render still names every cluster's context.
      const contexts = renderFleet(topology, { credentials: creds }).clusters.map((rc) => rc.context);
      const fleet = await startControlPlanes(contexts);
      const apis = new Map(
        contexts.map((ctx) => [ctx, createKubeApi({ kubeconfig: fleet.kubeconfigPath, context: ctx })]),
      );
      const configs = new Map(
        contexts.map((ctx) => [ctx, loadKubeConfig({ kubeconfig: fleet.kubeconfigPath, context: ctx })]),
      );
      w = { topology, creds, fleet, apis, configs, state: emptyState(), nodeIPs: new Map() };
    });
    after(() => w?.fleet.stop());

    const api = (rc: RenderedCluster): KubeApi => {
      const a = w.apis.get(rc.context);
      assert.ok(a);
      return a;
    };

    test("node addresses come from the Node objects: one per cluster, the control plane's InternalIP", async () => {
      const unresolved = renderFleet(w.topology, { credentials: w.creds });
      await registerNodes(w, unresolved, unresolved.clusters, 2);
      const discovered = await discover(w, unresolved);
      for (const rc of unresolved.clusters) {
        assert.equal(discovered.nodeIP[rc.cluster], w.nodeIPs.get(rc.cluster)?.[0], rc.cluster);
      }
      rendered = renderFleet(w.topology, { credentials: w.creds, discovered });
      assert.deepEqual(
        rendered.openAddresses,
        [],
        "nothing is left as a placeholder once addresses are known",
      );
      const text = JSON.stringify(rendered.clusters);
      assert.doesNotMatch(text, /\$\{NODE_IP_/);
      // Every sidecar is dialled at exactly one address: its cluster's node IP and its own NodePort.
      for (const wl of w.topology.workloads) {
        const ip = w.nodeIPs.get(wl.name)?.[0];
        wl.replicaNames.forEach((_, i) => {
          assert.ok(
            text.includes(`${ip}:${wl.nodePorts.sidecarGrpc + i}`),
            `${wl.name} sidecar ${i} at ${ip}`,
          );
        });
        for (const other of w.nodeIPs.get(wl.name)?.slice(1) ?? []) {
          assert.ok(!text.includes(`${other}:${wl.nodePorts.sidecarGrpc}`), `${wl.name} registered twice`);
        }
      }
    });

    test("every rendered object of every cluster is admitted by server-side apply", async () => {
      await Promise.all(rendered.clusters.map((rc) => applyCluster(api(rc), rc, w.state)));
      for (const rc of rendered.clusters) {
        for (const o of applyOrder(rc)) {
          const live = await api(rc).get(refOf(o));
          assert.ok(live, `${rc.cluster}: ${key(o)} missing after apply`);
          assert.equal(
            live.metadata.labels?.[MANAGED_BY_LABEL],
            FIELD_MANAGER,
            `${rc.cluster}: ${key(o)} label`,
          );
          const managers = (live.metadata.managedFields as { manager: string; operation: string }[]).map(
            (m) => `${m.manager}/${m.operation}`,
          );
          assert.ok(
            managers.includes(`${FIELD_MANAGER}/Apply`),
            `${rc.cluster}: ${key(o)} managed by ${managers}`,
          );
        }
      }
    });

    test("a second apply changes nothing: every object keeps its resourceVersion", async () => {
      const first = await Promise.all(rendered.clusters.map((rc) => snapshot(api(rc), rc)));
      await Promise.all(rendered.clusters.map((rc) => applyCluster(api(rc), rc, w.state)));
      const second = await Promise.all(rendered.clusters.map((rc) => snapshot(api(rc), rc)));
      const changed = rendered.clusters.flatMap((rc, i) =>
        [...(second[i] ?? [])]
          .filter(([k, v]) => first[i]?.get(k)?.rv !== v.rv || first[i]?.get(k)?.uid !== v.uid)
          .map(([k]) => `${rc.cluster}: ${k}`),
      );
      assert.deepEqual(changed, [], "objects a second apply changed");
    });

    test("NodePorts end up as planned and ClusterIPs come from the service range", async () => {
      for (const rc of rendered.clusters) {
        const live: number[] = [];
        for (const o of rc.manifests.filter((m) => m.kind === "Service")) {
          const svc = await api(rc).getService(o.metadata.namespace ?? "default", o.metadata.name);
          assert.ok(svc, `${rc.cluster}: Service ${o.metadata.name}`);
          const want = o.spec as {
            type?: string;
            ports: { name: string; nodePort?: number }[];
            clusterIP?: string;
          };
          assert.equal(svc.spec?.type, want.type ?? "ClusterIP", `${rc.cluster}: ${o.metadata.name} type`);
          if (want.clusterIP !== "None") assert.match(svc.spec?.clusterIP ?? "", /^10\.0\.0\.\d+$/);
          for (const p of want.ports) {
            const got: V1ServicePort | undefined = svc.spec?.ports?.find((x) => x.name === p.name);
            assert.ok(got, `${rc.cluster}: ${o.metadata.name} port ${p.name}`);
            if (p.nodePort !== undefined) {
              assert.equal(got.nodePort, p.nodePort, `${rc.cluster}: ${o.metadata.name}/${p.name}`);
              live.push(got.nodePort as number);
            }
          }
        }
        assert.deepEqual(
          live.sort((a, b) => a - b),
          plannedNodePorts(w.topology, rc.cluster).sort((a, b) => a - b),
          `${rc.cluster}: NodePorts`,
        );
      }
    });

    test("Secrets hold the generated credentials; no values file, ConfigMap or manifest does", async () => {
      const secretValues = [
        w.creds.minioRoot.user,
        w.creds.minioRoot.password,
        w.creds.thanos.accessKey,
        w.creds.thanos.secretKey,
        w.creds.grafana.password,
      ];
      const held = new Set<string>();
      for (const rc of rendered.clusters) {
        const core = w.configs.get(rc.context)?.makeApiClient(CoreV1Api);
        assert.ok(core);
        for (const s of rc.secrets) {
          const live = await core.readNamespacedSecret({
            name: s.metadata.name,
            namespace: s.metadata.namespace ?? "",
          });
          const decoded = Object.values(live.data ?? {}).map((v) =>
            Buffer.from(v, "base64").toString("utf8"),
          );
          for (const v of secretValues) if (decoded.some((d) => d.includes(v))) held.add(v);
        }
        for (const cm of (await core.listNamespacedConfigMap({ namespace: "monitoring" })).items) {
          const text = JSON.stringify(cm.data ?? {});
          for (const v of secretValues)
            assert.ok(!text.includes(v), `${rc.cluster}: ConfigMap ${cm.metadata?.name}`);
        }
      }
      assert.deepEqual([...held].sort(), [...secretValues].sort(), "every credential is in some Secret");
      for (const file of fleetFiles(w.topology, rendered, "out")) {
        if (file.path.endsWith("secrets.yaml")) {
          assert.equal(file.mode, 0o600, file.path);
          continue;
        }
        for (const v of secretValues) assert.ok(!file.content.includes(v), `${file.path} holds a credential`);
      }
      for (const rc of rendered.clusters) {
        assert.equal(rc.helmValues !== undefined, rc.role === "workload", `${rc.cluster}: helm values`);
        const open = JSON.stringify([rc.helmValues ?? {}, rc.manifests]);
        for (const v of secretValues)
          assert.ok(!open.includes(v), `${rc.cluster}: values or manifests hold a credential`);
      }
    });

    test("new node addresses (Docker restarted) are found again and change exactly the objects that use them", async () => {
      const before = await Promise.all(rendered.clusters.map((rc) => snapshot(api(rc), rc)));
      const oldIPs = new Map(w.nodeIPs);
      // Docker hands out addresses again, in another order: every node moves.
      await registerNodes(w, rendered, [...rendered.clusters].reverse(), 2 + rendered.clusters.length * 3);
      const discovered = await discover(w, rendered);
      for (const rc of rendered.clusters) {
        assert.equal(discovered.nodeIP[rc.cluster], w.nodeIPs.get(rc.cluster)?.[0]);
        assert.notEqual(discovered.nodeIP[rc.cluster], oldIPs.get(rc.cluster)?.[0]);
      }
      const next = renderFleet(w.topology, { credentials: w.creds, discovered });
      await Promise.all(next.clusters.map((rc) => applyCluster(api(rc), rc, w.state)));
      const afterApply = await Promise.all(next.clusters.map((rc) => snapshot(api(rc), rc)));
      let changed = 0;
      next.clusters.forEach((rc, i) => {
        const old = new Map(
          applyOrder(rendered.clusters[i] as RenderedCluster).map((o) => [key(o), JSON.stringify(o)]),
        );
        for (const o of applyOrder(rc)) {
          const differs = old.get(key(o)) !== JSON.stringify(o);
          const moved = before[i]?.get(key(o))?.rv !== afterApply[i]?.get(key(o))?.rv;
          assert.equal(
            moved,
            differs,
            `${rc.cluster}: ${key(o)} ${differs ? "should" : "should not"} change`,
          );
          if (differs) changed++;
        }
      });
      assert.ok(changed > 0, "the wiring to other clusters' node addresses changed somewhere");
      const live = (
        await Promise.all(next.clusters.flatMap((rc) => applyOrder(rc).map((o) => api(rc).get(refOf(o)))))
      )
        .map((o) => liveText(o))
        .join("\n");
      const used = (ip: string) => new RegExp(`(?<![0-9.])${ip.replaceAll(".", "\\.")}:\\d`).test(live);
      for (const [cluster, ips] of oldIPs) {
        const now = w.nodeIPs.get(cluster)?.[0] as string;
        // Other clusters reach every cluster but the observer through objects applied here (helm values carry mgmt's).
        if (cluster !== w.topology.observer.name)
          assert.ok(used(now), `${cluster}'s new address ${now} is used`);
        for (const ip of ips) assert.ok(!used(ip), `${cluster}'s old address ${ip} is still used`);
      }
      rendered = next;
    });

    test("a Job whose template changed is replaced; everything else is updated in place", async () => {
      const storage = rendered.clusters.find((rc) => rc.role === "storage");
      if (!storage) return;
      const job = storage.manifests.find((o) => o.kind === "Job");
      assert.ok(job);
      const before = await snapshot(api(storage), storage);
      const topology = parseFleet({ ...w.topology.fleet, bucket: "thanos-renamed" }, "renamed.yaml");
      const discovered = await discover(w, rendered);
      const next = renderFleet(topology, { credentials: w.creds, discovered });
      const rc = next.clusters.find((x) => x.cluster === storage.cluster) as RenderedCluster;
      await applyCluster(api(rc), rc, w.state);
      const afterApply = await snapshot(api(rc), rc);
      const jobKey = key(job);
      assert.notEqual(afterApply.get(jobKey)?.uid, before.get(jobKey)?.uid, "the Job is a new object");
      for (const [k, v] of afterApply)
        if (k !== jobKey) assert.equal(v.uid, before.get(k)?.uid, `${k} kept its uid`);
      const live = await api(rc).get(refOf(job));
      assert.match(JSON.stringify(live?.spec), /thanos-renamed/);
    });
  });
}

describe("a NodePort another Service already holds", { skip }, () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane({ name: "conflict", context: "kind-biz1" });
  });
  after(() => cp?.stop());

  test("fails the apply with the Service and the port named, and converges once the port is free", async () => {
    const topology = parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE);
    const rendered = renderFleet(topology, {
      credentials: generateCredentials(),
      discovered: {
        nodeIP: { mgmt: "172.18.0.2", biz1: "172.18.0.3", biz2: "172.18.0.4", minio: "172.18.0.5" },
      },
    });
    const biz1 = rendered.clusters.find((rc) => rc.cluster === "biz1") as RenderedCluster;
    const taken = topology.workloads[0]?.nodePorts.sidecarGrpc as number;
    const kc = loadKubeConfig({ kubeconfig: cp.kubeconfigPath, context: "kind-biz1" });
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "squatter" },
        spec: { type: "NodePort", selector: { app: "other" }, ports: [{ port: 80, nodePort: taken }] },
      },
    });
    const api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: "kind-biz1" });
    const state = emptyState();
    await assert.rejects(applyCluster(api, biz1, state), (err: Error) => {
      assert.match(err.message, /Service monitoring\/thanos-sidecar-0/);
      assert.match(err.message, new RegExp(`\\b${taken}\\b`));
      assert.match(err.message, /already allocated/);
      assert.match(err.message, /kind-biz1/);
      return true;
    });
    await core.deleteNamespacedService({ name: "squatter", namespace: "default" });
    await applyCluster(api, biz1, state);
    const svc = await api.getService("monitoring", "thanos-sidecar-0");
    assert.equal(svc?.spec?.ports?.find((p) => p.name === "grpc")?.nodePort, taken);
  });
});
