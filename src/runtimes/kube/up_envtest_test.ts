// The Kubernetes runtime's `up` and `down` against real API servers: etcd + kube-apiserver v1.36, one per cluster of
// the fleet, each cluster's Nodes registered as kind's kubelets register them. What runs for real: every API call of
// the runtime (server-side apply, reads, lists, deletes) through @kubernetes/client-node, admission, NodePort and
// ClusterIP allocation, field ownership, immutable fields. What is simulated: no kubelet or controller-manager runs,
// so a status reporter marks rollouts done and Jobs complete (pods never run); docker, kind and kubectl answer
// through the runtime's recorded fake world, and helm through a fake that records releases and creates the chart's
// own NodePort Services. Kind's steps and the real Helm install keep their recorded-call tests.

import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { type DeletionControllers, startDeletionControllers } from "../../../testing/envtest/controllers.ts";
import { envtestSkip, startControlPlanes } from "../../../testing/envtest/controlplane.ts";
import { kindNodeNames, registerKindNodes } from "../../../testing/envtest/nodes.ts";
import { removeAtExit } from "../../../testing/envtest/process.ts";
import { type StatusReporter, startStatusReporter } from "../../../testing/envtest/status.ts";
import { exitWith, FakeWorld } from "../../../testing/kube/fake-world.ts";
import { NAMESPACE } from "../../components/context.ts";
import { storageService } from "../../components/storage.ts";
import { type DiscoveredAddresses, readDiscoveredAddresses } from "../../render/addresses.ts";
import { fleetFiles } from "../../render/files.ts";
import { renderFleet } from "../../render/render.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "../../render/types.ts";
import { type Credentials, loadOrCreateCredentials } from "../../state/credentials.ts";
import { loadFleetTls, loadOrCreateFleetTls, loadS3Tls, type S3Tls } from "../../state/tls.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet, parseFleetYaml } from "../../topology/load.ts";
import { fleetNodePorts, usesReceive } from "../../topology/semantics.ts";
import type { Topology } from "../../topology/topology.ts";
import type { Reporter, UpOptions } from "../runtime.ts";
import {
  createKubeApi,
  FIELD_MANAGER,
  type KubeApi,
  loadKubeConfig,
  MANAGED_BY_LABEL,
  MANAGED_BY_SELECTOR,
  refOf,
} from "./api.ts";
import { loadKubeLeaves } from "./certs.ts";
import type { Exec, RunOptions, RunResult } from "./exec.ts";
import { valuesFile } from "./helm.ts";
import { createKubeRuntime, type KubeRuntime } from "./index.ts";
import { DEFAULT_TIMEOUTS, type KubeDeps } from "./run-context.ts";
import { readState } from "./state.ts";
import type { Clock } from "./wait.ts";

const skip = envtestSkip();

const FOUR_WORKLOADS = `
bucket: thanos
clusters:
  - { name: mgmt, role: observer, context: ctx-mgmt }
  - { name: biz1, role: workload, context: ctx-biz1 }
  - { name: biz2, role: workload, context: ctx-biz2, serviceType: LoadBalancer }
  - { name: biz3, role: workload, context: ctx-biz3, prometheus: { replicas: 3 } }
  - { name: biz4, role: workload, context: ctx-biz4, nodePorts: { sidecarGrpc: 31500, sidecarHttp: 31600, prometheus: 30190 } }
  - { name: minio, role: storage, context: ctx-minio }
`;

const RECEIVE = `
bucket: thanos
clusters:
  - { name: mgmt, role: observer, context: ctx-mgmt }
  - { name: biz1, role: workload, context: ctx-biz1 }
  - { name: biz2, role: workload, context: ctx-biz2, mode: receive }
  - { name: minio, role: storage, context: ctx-minio }
`;

interface Case {
  title: string;
  topology: () => Topology;
  /** A cluster whose namespace exists before `up`, holding an object of its owner. */
  preexistingNamespace?: string;
  /** A NodePort another Service holds before the first `up`. */
  squatter?: { cluster: string; port: number; field: string };
}

const CASES: Case[] = [
  {
    title: "the default fleet (kind clusters that already exist)",
    topology: () => parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE),
  },
  {
    title: "four workload clusters on existing contexts, one behind LoadBalancer Services",
    topology: () => parseFleetYaml(FOUR_WORKLOADS, "four.yaml"),
    preexistingNamespace: "biz3",
    squatter: { cluster: "biz4", port: 31500, field: "clusters[4].nodePorts.sidecarGrpc" },
  },
  {
    title:
      "biz2 on receive, existing contexts: routers and ingesters on mgmt, biz2's Prometheus remote-writing with no sidecar",
    topology: () => parseFleetYaml(RECEIVE, "receive.yaml"),
    squatter: { cluster: "mgmt", port: 30907, field: "clusters[0].receive.nodePort" },
  },
];

/** Real time, but a poll never sleeps longer than 50 ms: the status reporter answers within ~100 ms. */
const quickClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(Math.min(ms, 50), undefined, { signal }),
};

function recordingReporter(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    step: (title) => (error) => lines.push(error ? `✗ ${title}: ${error.message}` : `✓ ${title}`),
    info: (line) => lines.push(line),
    verbose: () => {},
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The whole story of an error: its message and its causes'. */
function story(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    out.push(String(e.message ?? e));
  }
  return out.join("\n  caused by: ");
}

const CHART_SERVICES = ["alertmanager", "grafana"] as const;

/**
 * helm as seen from the API server: releases kept in memory, the chart's own NodePort Services (Alertmanager,
 * Grafana) created from the values. An install fails when the Secrets the values reference are not there yet,
 * since the chart's pods could not start without them.
 */
class FakeHelm {
  readonly releases = new Map<string, { chart: string; values: Record<string, unknown>; revision: number }>();

  constructor(private readonly configs: Map<string, KubeConfig>) {}

  handles(cmd: string, args: string[]): boolean {
    return cmd === "helm" && ["list", "get", "upgrade", "uninstall"].includes(args[0] ?? "");
  }

  async run(cmd: string, args: string[]): Promise<RunResult> {
    const flag = (n: string) => {
      const i = args.indexOf(n);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const context = flag("--kube-context") ?? "";
    const namespace = flag("--namespace") ?? "default";
    const kc = this.configs.get(context);
    if (!kc)
      exitWith(cmd, args, `Error: Kubernetes cluster unreachable: context "${context}" does not exist`);
    const core = kc.makeApiClient(CoreV1Api);
    const key = (name: string) => `${context}|${namespace}|${name}`;
    const ok = (stdout: string): RunResult => ({ stdout, stderr: "" });
    switch (args[0]) {
      case "list": {
        const rows = [...this.releases]
          .filter(([k]) => k.startsWith(`${context}|${namespace}|`))
          .map(([k, r]) => ({
            name: k.split("|")[2],
            namespace,
            revision: String(r.revision),
            status: "deployed",
            chart: r.chart,
          }));
        return ok(JSON.stringify(rows));
      }
      case "get": {
        const r = this.releases.get(key(args[2] ?? ""));
        if (!r) exitWith(cmd, args, "Error: release: not found");
        return ok(JSON.stringify(r.values));
      }
      case "upgrade": {
        const name = args[2] ?? "";
        const values = parse(await readFile(flag("--values") ?? "", "utf8")) as ChartValues;
        try {
          await core.readNamespace({ name: namespace });
        } catch {
          exitWith(cmd, args, `Error: create: failed to create: namespaces "${namespace}" not found`);
        }
        const spec = values.prometheus?.prometheusSpec;
        const needed = [
          spec?.thanos?.objectStorageConfig?.existingSecret?.name,
          values.grafana?.admin?.existingSecret,
          // The Secrets the operator mounts into Prometheus (a receive-mode cluster's remote-write TLS files).
          ...(spec?.secrets ?? []),
        ].filter((s): s is string => Boolean(s));
        assert.ok(
          spec?.thanos ? needed.length >= 2 : spec?.remoteWrite !== undefined && needed.length >= 2,
          "the values reference the objstore (or remote-write TLS) and Grafana admin Secrets",
        );
        for (const secret of needed) {
          try {
            await core.readNamespacedSecret({ name: secret, namespace });
          } catch {
            exitWith(
              cmd,
              args,
              `Error: the chart's pods cannot start: Secret ${namespace}/${secret} does not exist yet`,
            );
          }
        }
        for (const svc of CHART_SERVICES) {
          const nodePort = values[svc]?.service?.nodePort;
          const port = svc === "grafana" ? 80 : 9093;
          const body = {
            metadata: {
              name: `${name}-${svc}`,
              labels: { "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": name },
            },
            spec: {
              type: values[svc]?.service?.type,
              selector: { app: svc },
              ports: [{ name: "http", port, nodePort }],
            },
          };
          const exists = await core.readNamespacedService({ name: body.metadata.name, namespace }).then(
            () => true,
            () => false,
          );
          if (exists) continue;
          try {
            await core.createNamespacedService({ namespace, body });
          } catch (err) {
            exitWith(cmd, args, `Error: Service ${body.metadata.name}: ${(err as { body?: string }).body}`);
          }
        }
        await runOperator(kc, namespace, name);
        const before = this.releases.get(key(name));
        const chart = `${(args[3] ?? "").split("/")[1]}-${flag("--version")}`;
        this.releases.set(key(name), { chart, values, revision: (before?.revision ?? 0) + 1 });
        return ok(`Release "${name}" has been ${before ? "upgraded" : "installed"}.\n`);
      }
      case "uninstall": {
        const name = args[1] ?? "";
        if (!this.releases.delete(key(name))) {
          exitWith(cmd, args, `Error: uninstall: Release not loaded: ${name}: release: not found`);
        }
        for (const svc of CHART_SERVICES) {
          await core.deleteNamespacedService({ name: `${name}-${svc}`, namespace }).catch(() => {});
        }
        // Helm deletes the chart's resources and keeps its CRDs; the garbage collector (not running here) would
        // delete the StatefulSets their owners are gone from.
        const objects = KubernetesObjectApi.makeApiClient(kc);
        for (const { kind, app } of OPERATED) {
          const ref = {
            apiVersion: "monitoring.coreos.com/v1",
            kind,
            metadata: { name: `${name}-${app}`, namespace },
          };
          await objects.delete(ref).catch(() => {});
          await kc
            .makeApiClient(AppsV1Api)
            .deleteNamespacedStatefulSet({ name: `${app}-${name}-${app}`, namespace })
            .catch(() => {});
        }
        return ok(`release "${name}" uninstalled\n`);
      }
    }
    throw new Error(`the fake helm does not know ${args.join(" ")}`);
  }
}

const OPERATED = [
  { kind: "Prometheus", plural: "prometheuses", app: "prometheus" },
  { kind: "Alertmanager", plural: "alertmanagers", app: "alertmanager" },
] as const;

/**
 * What the chart and the Prometheus Operator make on an install, as far as `up` looks at it: the CRDs (schema-less
 * here), a Prometheus and an Alertmanager resource, and the StatefulSet the operator owns for each (which the status
 * reporter then reports rolled out).
 */
async function runOperator(kc: KubeConfig, namespace: string, release: string): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const apps = kc.makeApiClient(AppsV1Api);
  const exists = (e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  };
  for (const { kind, plural } of OPERATED) {
    await objects
      .create({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: "monitoring.coreos.com",
          names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
          scope: "Namespaced",
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      } as KubernetesObject)
      .catch(exists);
  }
  for (const { kind, app } of OPERATED) {
    const name = `${release}-${app}`;
    // Helm marks every object of a release so; the pods the operator makes are found through them.
    const annotations = { "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace };
    const resource = {
      apiVersion: "monitoring.coreos.com/v1",
      kind,
      metadata: { name, namespace, annotations },
    };
    // The CRD serves once established: a moment after it is created.
    let created: KubernetesObject | undefined;
    for (let attempt = 0; !created; attempt++) {
      created = await objects.create(resource).catch(async (e: unknown) => {
        if ((e as { code?: number }).code === 409) return objects.read(resource);
        if (attempt >= 50) throw e;
        await sleep(100);
        return undefined;
      });
    }
    const selector = { "app.kubernetes.io/name": app, "operator.prometheus.io/name": name };
    await apps
      .createNamespacedStatefulSet({
        namespace,
        body: {
          metadata: {
            name: `${app}-${name}`,
            ownerReferences: [
              {
                apiVersion: resource.apiVersion,
                kind,
                name,
                uid: created.metadata?.uid ?? "",
                controller: true,
              },
            ],
          },
          spec: {
            replicas: 1,
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: selector },
              spec: { containers: [{ name: app, image: `quay.io/prometheus/${app}` }] },
            },
          },
        },
      })
      .catch(exists);
  }
}

interface ChartValues {
  prometheus?: {
    prometheusSpec?: {
      thanos?: { objectStorageConfig?: { existingSecret?: { name?: string } } };
      secrets?: string[];
      remoteWrite?: unknown[];
    };
  };
  grafana?: { admin?: { existingSecret?: string }; service?: { type?: string; nodePort?: number } };
  alertmanager?: { service?: { type?: string; nodePort?: number } };
  [key: string]: unknown;
}

/** The kinds thanos-fleet and the chart put in a cluster, and the ones a person might have there. */
const WATCHED: [string, string][] = [
  ["v1", "Namespace"],
  ["v1", "Secret"],
  ["v1", "ConfigMap"],
  ["v1", "Service"],
  ["apps/v1", "Deployment"],
  ["apps/v1", "StatefulSet"],
  ["batch/v1", "Job"],
  ["v1", "PersistentVolumeClaim"],
];

/**
 * The claims the StatefulSet controller (which does not run here) would make from the rendered templates: named
 * `<template>-<statefulset>-<ordinal>`, labelled with the template's labels and the selector's.
 */
async function claimAsTheController(k: CoreV1Api, objects: KubeObject[]): Promise<number> {
  let made = 0;
  for (const sts of objects.filter((o) => o.kind === "StatefulSet")) {
    const spec = sts.spec as {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      volumeClaimTemplates?: { metadata: { name: string; labels?: Record<string, string> }; spec: object }[];
    };
    for (const t of spec.volumeClaimTemplates ?? []) {
      for (let i = 0; i < spec.replicas; i++) {
        await k.createNamespacedPersistentVolumeClaim({
          namespace: NAMESPACE,
          body: {
            metadata: {
              name: `${t.metadata.name}-${sts.metadata.name}-${i}`,
              labels: { ...t.metadata.labels, ...spec.selector.matchLabels },
            },
            spec: t.spec,
          },
        });
        made++;
      }
    }
  }
  return made;
}

/**
 * A pod for each StatefulSet, Deployment and Job in the namespace, thanos-fleet's and the operator's, as their
 * controllers (which do not run here) would make it: owned by it, with its template's labels, bound to a node (so
 * that a delete only marks it as being deleted until the kubelet confirms). `hold` adds a finalizer to one of them.
 */
async function podsAsTheControllers(
  kc: KubeConfig,
  node: string,
  hold?: { owner: string; finalizer: string },
): Promise<string[]> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const made: string[] = [];
  for (const [apiVersion, kind] of [
    ["apps/v1", "StatefulSet"],
    ["apps/v1", "Deployment"],
    ["batch/v1", "Job"],
  ] as const) {
    for (const owner of (await objects.list(apiVersion, kind, NAMESPACE)).items as KubeObject[]) {
      const template = (owner.spec as { template: { metadata?: { labels?: Record<string, string> } } })
        .template;
      const name = `${owner.metadata.name}-0`;
      await core.createNamespacedPod({
        namespace: NAMESPACE,
        body: {
          metadata: {
            name,
            labels: template.metadata?.labels ?? {},
            ...(hold?.owner === owner.metadata.name ? { finalizers: [hold.finalizer] } : {}),
            ownerReferences: [
              {
                apiVersion,
                kind,
                name: owner.metadata.name,
                uid: String(owner.metadata.uid),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: { nodeName: node, containers: [{ name: "main", image: "registry.invalid/main" }] },
        },
      });
      made.push(`Pod ${NAMESPACE}/${name}`);
    }
  }
  return made;
}

const key = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** Every watched object in a cluster, by key: resourceVersion and uid. */
async function snapshot(api: KubeApi): Promise<Map<string, { rv: string; uid: string }>> {
  const out = new Map<string, { rv: string; uid: string }>();
  for (const [apiVersion, kind] of WATCHED) {
    for (const o of await api.list(apiVersion, kind)) {
      out.set(key(o), { rv: String(o.metadata.resourceVersion), uid: String(o.metadata.uid) });
    }
  }
  return out;
}

function changedBetween(
  a: Map<string, { rv: string; uid: string }>,
  b: Map<string, { rv: string; uid: string }>,
): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k)?.rv !== b.get(k)?.rv || a.get(k)?.uid !== b.get(k)?.uid).sort();
}

const rendered = (rc: RenderedCluster): KubeObject[] => [...rc.secrets, ...rc.manifests];

/** The NodePorts a cluster must hold, read from the topology itself rather than from what render made of it. */
function plannedNodePorts(topology: Topology, cluster: string): number[] {
  const c = topology.fleet.clusters.find((x) => x.name === cluster);
  assert.ok(c);
  // fleet.yaml's ports (a receive-mode cluster's sidecar ports left out, the observer's remote-write endpoint in):
  // the rendered Services and the chart's must open exactly these.
  // With tls.http, each Prometheus keeps its port inside its cluster on Kubernetes (no NodePort).
  return fleetNodePorts(topology.fleet, c)
    .filter((p) => !(topology.fleet.tls.http && p.key.startsWith("prometheus")))
    .map((p) => p.port);
}

/** An object as text, a Secret's data decoded: what a reader of the cluster finds in it. */
function readable(o: KubeObject | undefined): string {
  if (o?.kind !== "Secret") return JSON.stringify(o);
  const data = (o.data ?? {}) as Record<string, string>;
  const decoded = Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]);
  return JSON.stringify({ ...o, data: Object.fromEntries(decoded) });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

for (const c of CASES) {
  describe(`up and down against real API servers: ${c.title}`, { skip }, () => {
    const topology = c.topology();
    let stateDir: string;
    let stopPlanes: () => Promise<void> = async () => {};
    const apis = new Map<string, KubeApi>();
    const configs = new Map<string, KubeConfig>();
    const reporters: StatusReporter[] = [];
    let world: FakeWorld;
    let helm: FakeHelm;
    let runtime: KubeRuntime;
    let reporter: ReturnType<typeof recordingReporter>;
    /** Node IPs per cluster, control plane first, as last registered. */
    const nodeIPs = new Map<string, string[]>();
    let fleet: RenderedFleet;
    let creds: Credentials;
    const clusterOf = (name: string) => fleet.clusters.find((rc) => rc.cluster === name) as RenderedCluster;
    const api = (rc: RenderedCluster) => apis.get(rc.context) as KubeApi;
    const kc = (rc: RenderedCluster) => configs.get(rc.context) as KubeConfig;
    const core = (rc: RenderedCluster) => kc(rc).makeApiClient(CoreV1Api);
    const nodeOf = async (rc: RenderedCluster) => (await api(rc).listNodes())[0]?.metadata?.name ?? "";
    /** The garbage collector, namespace controller and a kubelet that confirms a pod gone a second later. */
    const startControllers = (): DeletionControllers[] =>
      fleet.clusters.map((rc) => startDeletionControllers(kc(rc), { kubeletDelayMs: 1000 }));
    const stopControllers = async (list: DeletionControllers[]) => {
      const stopped = await Promise.allSettled(list.map((x) => x.stop()));
      for (const r of stopped) if (r.status === "rejected") throw r.reason;
    };

    const opts = (): UpOptions => ({
      stateDir,
      reporter,
      signal: AbortSignal.timeout(120_000),
      verbose: false,
    });

    /** Gives every node of every cluster an address, from `first` on, clusters in the given order. */
    async function registerNodes(order: RenderedCluster[], first: number): Promise<void> {
      let next = first;
      for (const rc of order) {
        const workers = ((rc.kindConfig as { nodes?: unknown[] } | undefined)?.nodes?.length ?? 3) - 1;
        const names = kindNodeNames(rc.cluster, workers);
        const ips = names.map(() => `172.18.0.${next++}`);
        await registerKindNodes(
          configs.get(rc.context) as KubeConfig,
          rc.cluster,
          names.map((name, i) => ({ name, internalIP: ips[i] as string, controlPlane: i === 0 })),
        );
        nodeIPs.set(rc.cluster, ips);
      }
    }

    /** What up installed, rendered as up renders it: from the state dir's credentials and addresses. */
    async function renderFromState(
      t: Topology = topology,
    ): Promise<{ fleet: RenderedFleet; discovered: DiscoveredAddresses }> {
      const discovered = await readDiscoveredAddresses(stateDir);
      assert.ok(discovered, "up wrote the discovered addresses");
      creds = await loadOrCreateCredentials(stateDir);
      const own = await loadFleetTls(stateDir);
      const grpcTls = t.fleet.tls.grpc ? { grpcTls: own.grpc } : {};
      const httpTls = t.fleet.tls.http ? { httpTls: own.http } : {};
      const s3Tls = await s3Material(t);
      const opts = { credentials: creds, ...grpcTls, ...httpTls, ...s3Tls };
      // Each server's own certificate, as up made it and keeps it in the state dir.
      const leaves =
        t.fleet.tls.grpc || t.fleet.tls.http
          ? (await loadKubeLeaves(t, stateDir, opts, discovered, { cert: own.grpc.ca, key: own.caKey }))
              .leaves
          : undefined;
      return {
        fleet: renderFleet(t, { ...opts, discovered, ...(leaves ? { serverLeaves: leaves } : {}) }),
        discovered,
      };
    }

    /** The storage cluster's TLS material as up makes and keeps it in the state dir. */
    async function s3Material(t: Topology): Promise<{ s3Tls?: S3Tls }> {
      if (!t.storage || !t.fleet.tls.s3) return {};
      const s3 = await loadS3Tls(stateDir, storageService(t));
      await s3.save();
      return { s3Tls: s3.tls };
    }

    before(async () => {
      stateDir = await mkdtemp(join(tmpdir(), "thanos-fleet-envtest-state-"));
      removeAtExit(stateDir);
      // Render names every cluster's context even before any address is known.
      fleet = renderFleet(topology, {
        credentials: await loadOrCreateCredentials(stateDir),
        ...(await (async () => {
          const own = await loadOrCreateFleetTls(stateDir);
          return {
            ...(topology.fleet.tls.grpc ? { grpcTls: own.grpc } : {}),
            ...(topology.fleet.tls.http ? { httpTls: own.http } : {}),
          };
        })()),
        ...(await s3Material(topology)),
      });
      const planes = await startControlPlanes(fleet.clusters.map((rc) => rc.context));
      stopPlanes = () => planes.stop();
      for (const rc of fleet.clusters) {
        apis.set(rc.context, createKubeApi({ kubeconfig: planes.kubeconfigPath, context: rc.context }));
        const kc = loadKubeConfig({ kubeconfig: planes.kubeconfigPath, context: rc.context });
        configs.set(rc.context, kc);
        // Each cluster's load balancer hands out addresses of its own, as MetalLB pools would.
        reporters.push(startStatusReporter(kc, { loadBalancerPrefix: `172.18.${200 + reporters.length}.` }));
      }
      await registerNodes(fleet.clusters, 2);

      world = new FakeWorld();
      world.kindNetwork = true;
      for (const rc of fleet.clusters) {
        if (rc.kindConfig) world.kindClusters.set(rc.cluster, kindNodeNames(rc.cluster, 0));
      }
      helm = new FakeHelm(configs);
      const exec: Exec = {
        run: (cmd: string, args: string[], o?: RunOptions) => {
          if (!helm.handles(cmd, args)) return world.exec.run(cmd, args, o);
          world.recorder.record(`$ ${cmd} ${args.join(" ")}`);
          return helm.run(cmd, args);
        },
      };
      const deps: KubeDeps = {
        exec,
        api: (context) => {
          const a = apis.get(context);
          if (!a) throw new Error(`kube context '${context}' is not in the test kubeconfig`);
          return a;
        },
        clock: quickClock,
        platform: "linux",
        readSysctl: async () => "1048576",
        render: renderFleet,
        timeouts: { ...DEFAULT_TIMEOUTS, rolloutMs: 60_000, loadBalancerMs: 5_000 },
      };
      runtime = createKubeRuntime(deps);
      reporter = recordingReporter();

      // What the clusters' owners have there already, which `down` must leave alone.
      for (const rc of fleet.clusters) {
        const k = core(rc);
        await k.createNamespace({ body: { metadata: { name: "team-a" } } });
        await k.createNamespacedConfigMap({
          namespace: "team-a",
          body: { metadata: { name: "notes" }, data: { a: "b" } },
        });
        await k.createNamespacedService({
          namespace: "default",
          body: {
            metadata: { name: "their-app" },
            spec: { type: "NodePort", selector: { app: "theirs" }, ports: [{ port: 80, nodePort: 32500 }] },
          },
        });
        if (rc.cluster === c.preexistingNamespace) {
          await k.createNamespace({ body: { metadata: { name: NAMESPACE } } });
          await k.createNamespacedConfigMap({
            namespace: NAMESPACE,
            body: { metadata: { name: "their-dashboards" }, data: { d: "1" } },
          });
        }
      }
    });

    after(async () => {
      await runtime?.close();
      // A status the API server refused fails the suite here, after the servers are gone.
      const stopped = await Promise.allSettled(reporters.map((r) => r.stop()));
      await stopPlanes();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
      for (const s of stopped) if (s.status === "rejected") throw s.reason;
    });

    if (c.squatter) {
      const sq = c.squatter;
      test("a NodePort another Service holds fails preflight, naming it and its fleet.yaml field; nothing is created", async () => {
        const rc = clusterOf(sq.cluster);
        await core(rc).createNamespacedService({
          namespace: "default",
          body: {
            metadata: { name: "squatter" },
            spec: { type: "NodePort", selector: { app: "x" }, ports: [{ port: 1, nodePort: sq.port }] },
          },
        });
        const mark = world.recorder.mark();
        await assert.rejects(runtime.up(topology, opts()), (err: Error) => {
          const text = story(err);
          assert.match(text, /preflight found a problem; nothing was created/);
          assert.match(
            text,
            new RegExp(
              `cluster ${sq.cluster}: NodePort ${sq.port} \\(${escapeRegExp(sq.field)}( \\+ 0)?\\) is held by Service default/squatter in context ${rc.context}`,
            ),
          );
          assert.match(text, new RegExp(`fix: set a free port for ${escapeRegExp(sq.field)} in fleet.yaml`));
          return true;
        });
        // No tool ran but the version checks, no state was recorded, no namespace was made.
        assert.deepEqual(
          world.recorder.since(mark).filter((l) => !/^\$ (kubectl|helm) version/.test(l)),
          [],
        );
        assert.deepEqual((await readState(stateDir)).clusters, {});
        for (const other of fleet.clusters) {
          const names = (await core(other).listNamespace()).items.map((n) => n.metadata?.name);
          assert.equal(names.includes(NAMESPACE), other.cluster === c.preexistingNamespace, other.cluster);
        }
        await core(rc).deleteNamespacedService({ name: "squatter", namespace: "default" });
      });
    }

    test("up applies every rendered object, each admitted; node addresses come from the Nodes; helm runs after its Secrets", async () => {
      const mark = world.recorder.mark();
      await runtime.up(topology, opts());
      const r = await renderFromState();
      fleet = r.fleet;
      for (const rc of fleet.clusters)
        assert.equal(r.discovered.nodeIP[rc.cluster], nodeIPs.get(rc.cluster)?.[0], rc.cluster);
      assert.deepEqual(fleet.openAddresses, []);
      for (const rc of fleet.clusters) {
        for (const o of rendered(rc)) {
          const live = await api(rc).get(refOf(o));
          assert.ok(live, `${rc.cluster}: ${key(o)} missing after up`);
          assert.equal(live.metadata.labels?.[MANAGED_BY_LABEL], FIELD_MANAGER, `${rc.cluster}: ${key(o)}`);
          const managers = (live.metadata.managedFields as { manager: string; operation: string }[]).map(
            (m) => `${m.manager}/${m.operation}`,
          );
          assert.ok(
            managers.includes(`${FIELD_MANAGER}/Apply`),
            `${rc.cluster}: ${key(o)} managers ${managers}`,
          );
        }
      }
      const installs = world.recorder.lines.filter((l) => l.startsWith("$ helm upgrade --install"));
      for (const rc of fleet.clusters.filter((x) => x.role === "workload")) {
        assert.ok(
          installs.some((l) => l.includes(`--kube-context ${rc.context} `)),
          `${rc.cluster}: helm install`,
        );
        const release = helm.releases.get(`${rc.context}|${NAMESPACE}|kube-prometheus-stack`);
        assert.equal(release?.chart, "kube-prometheus-stack-88.5.3", `${rc.cluster}: release`);
      }
      assert.equal(
        world.recorder.since(mark).filter((l) => l.startsWith("$ helm upgrade")).length,
        installs.length,
      );
      // Every sidecar is dialled at exactly one address: its cluster's node IP and its own NodePort, or the address
      // its LoadBalancer Service was given and the Service's port.
      const mgmt = clusterOf(topology.observer.name);
      const wiring = (await Promise.all(rendered(mgmt).map((o) => api(mgmt).get(refOf(o)))))
        .map(readable)
        .join("\n");
      const lbClusters = topology.workloads
        .filter((w) => w.serviceType === "LoadBalancer")
        .map((w) => w.name);
      assert.deepEqual(Object.keys(r.discovered.loadBalancer ?? {}), lbClusters);
      for (const w of topology.workloads) {
        const sidecars = await core(clusterOf(w.name)).listNamespacedService({ namespace: NAMESPACE });
        if (w.mode === "receive") {
          // No sidecar to dial: its Prometheus writes to mgmt's remote-write endpoint at mgmt's discovered node.
          assert.ok(!sidecars.items.some((x) => x.metadata?.name?.startsWith("thanos-sidecar")), w.name);
          const release = helm.releases.get(
            `${clusterOf(w.name).context}|${NAMESPACE}|kube-prometheus-stack`,
          );
          const spec = (release?.values.prometheus as { prometheusSpec: { remoteWrite: { url: string }[] } })
            .prometheusSpec;
          const url = `https://${nodeIPs.get(topology.observer.name)?.[0]}:${topology.observer.receive.nodePort}/api/v1/receive`;
          assert.deepEqual(
            spec.remoteWrite.map((x) => x.url),
            [url],
          );
          const exposed = await core(mgmt).readNamespacedService({
            name: "thanos-receive-router-exposed",
            namespace: NAMESPACE,
          });
          assert.equal(exposed.spec?.ports?.[0]?.nodePort, topology.observer.receive.nodePort);
          continue;
        }
        w.replicaNames.forEach((_, i) => {
          const svc = sidecars.items.find((x) => x.metadata?.name === `thanos-sidecar-${i}`);
          const grpc = svc?.spec?.ports?.find((p) => p.name === "grpc");
          assert.equal(grpc?.nodePort, w.nodePorts.sidecarGrpc + i);
          const lb = svc?.status?.loadBalancer?.ingress?.[0]?.ip;
          assert.equal(
            lb !== undefined,
            w.serviceType === "LoadBalancer",
            `${w.name}: load-balancer address`,
          );
          const endpoint = lb ? `${lb}:${grpc?.port}` : `${nodeIPs.get(w.name)?.[0]}:${grpc?.nodePort}`;
          assert.equal(
            wiring.split(endpoint).length - 1,
            1,
            `${w.name} sidecar ${i} wired once as ${endpoint}`,
          );
        });
      }
    });

    test("a second up changes nothing: no object gets a new resourceVersion, helm upgrades nothing", async () => {
      const before = await Promise.all(fleet.clusters.map((rc) => snapshot(api(rc))));
      const mark = world.recorder.mark();
      reporter.lines.length = 0;
      await runtime.up(topology, opts());
      const afterUp = await Promise.all(fleet.clusters.map((rc) => snapshot(api(rc))));
      const changed = fleet.clusters.flatMap((rc, i) =>
        changedBetween(before[i] ?? new Map(), afterUp[i] ?? new Map()).map((k) => `${rc.cluster}: ${k}`),
      );
      assert.deepEqual(changed, []);
      assert.deepEqual(
        world.recorder.since(mark).filter((l) => /^\$ helm (upgrade|uninstall)/.test(l)),
        [],
      );
      for (const rc of fleet.clusters.filter((x) => x.role === "workload")) {
        assert.ok(
          reporter.lines.some((l) => l.includes(`${rc.cluster}: kube-prometheus-stack is up to date`)),
          rc.cluster,
        );
      }
    });

    test("endpoints tell verify when each workload cluster's Prometheus was made: its StatefulSet's creation time", async () => {
      const ep = await runtime.endpoints(topology, { stateDir });
      const want: Record<string, string> = {};
      for (const rc of fleet.clusters.filter((x) => x.role === "workload")) {
        const sets = await api(rc).list("apps/v1", "StatefulSet", { namespace: NAMESPACE });
        const prometheus = sets.find((s) => s.metadata.name.startsWith("prometheus-"));
        // The client hands it over as a Date.
        const made = (prometheus?.metadata as { creationTimestamp?: Date | string } | undefined)
          ?.creationTimestamp;
        assert.ok(made, `${rc.cluster}: the API server gave the operator's StatefulSet a creation time`);
        want[rc.cluster] = new Date(made).toISOString();
      }
      assert.deepEqual(ep.clusterUpSince, want);
      assert.deepEqual(Object.keys(want).sort(), topology.workloads.map((w) => w.name).sort());
    });

    test("NodePorts end up as planned, the chart's included; ClusterIPs come from the service range", async () => {
      for (const rc of fleet.clusters) {
        const services = (await core(rc).listNamespacedService({ namespace: NAMESPACE })).items;
        const live = services.flatMap((s) =>
          (s.spec?.ports ?? []).flatMap((p) => (p.nodePort ? [p.nodePort] : [])),
        );
        assert.deepEqual(
          live.sort((a, b) => a - b),
          plannedNodePorts(topology, rc.cluster).sort((a, b) => a - b),
          `${rc.cluster}: NodePorts`,
        );
        for (const o of rc.manifests.filter((m) => m.kind === "Service")) {
          const s = services.find((x) => x.metadata?.name === o.metadata.name);
          const want = o.spec as {
            type?: string;
            clusterIP?: string;
            ports: { name: string; nodePort?: number }[];
          };
          assert.equal(s?.spec?.type, want.type ?? "ClusterIP", `${rc.cluster}: ${o.metadata.name}`);
          if (want.clusterIP !== "None") assert.match(s?.spec?.clusterIP ?? "", /^10\.0\.0\.\d+$/);
          for (const p of want.ports) {
            assert.equal(
              s?.spec?.ports?.find((x) => x.name === p.name)?.nodePort,
              p.nodePort,
              `${o.metadata.name}/${p.name}`,
            );
          }
        }
      }
    });

    test("Secrets hold the generated credentials; no values file, state file, ConfigMap or manifest does", async () => {
      const values = [
        creds.minioRoot.user,
        creds.minioRoot.password,
        creds.thanos.accessKey,
        creds.thanos.secretKey,
        creds.grafana.password,
      ];
      const held = new Set<string>();
      for (const rc of fleet.clusters) {
        for (const s of (await core(rc).listNamespacedSecret({ namespace: NAMESPACE })).items) {
          const text = readable({ ...(s as KubeObject), kind: "Secret" });
          for (const v of values) if (text.includes(v)) held.add(v);
        }
        for (const cm of (await core(rc).listNamespacedConfigMap({ namespace: NAMESPACE })).items) {
          for (const v of values)
            assert.ok(!JSON.stringify(cm.data).includes(v), `${rc.cluster}: ConfigMap ${cm.metadata?.name}`);
        }
        for (const o of rc.manifests) {
          for (const v of values)
            assert.ok(!JSON.stringify(o).includes(v), `${rc.cluster}: ${key(o)} holds a credential`);
        }
      }
      assert.deepEqual([...held].sort(), [...values].sort(), "every credential is in some Secret");
      const workloads = fleet.clusters.filter((rc) => rc.role === "workload");
      for (const rc of workloads) {
        const file = valuesFile(stateDir, rc.cluster);
        const text = await readFile(file, "utf8");
        assert.match(text, /existingSecret/);
        for (const v of values) assert.ok(!text.includes(v), `${file} holds a credential`);
        for (const v of values)
          assert.ok(
            !JSON.stringify(
              helm.releases.get(`${rc.context}|${NAMESPACE}|kube-prometheus-stack`)?.values,
            ).includes(v),
          );
      }
      for (const file of await filesUnder(stateDir)) {
        if (file.endsWith("credentials.yaml")) {
          assert.equal((await stat(file)).mode & 0o777, 0o600, file);
          continue;
        }
        const text = await readFile(file, "utf8");
        for (const v of values) assert.ok(!text.includes(v), `${file} holds a credential`);
      }
      for (const f of fleetFiles(topology, fleet, "out")) {
        if (f.path.endsWith("secrets.yaml")) assert.equal(f.mode, 0o600, f.path);
        else
          for (const v of values) assert.ok(!f.content.includes(v), `rendered ${f.path} holds a credential`);
      }
    });

    test("after Docker hands out new node addresses, up finds them and changes exactly the objects that use them", async () => {
      const old = fleet;
      const oldIPs = new Map(nodeIPs);
      const before = await Promise.all(fleet.clusters.map((rc) => snapshot(api(rc))));
      await registerNodes([...fleet.clusters].reverse(), 2 + fleet.clusters.length * 3);
      reporter.lines.length = 0;
      const mark = world.recorder.mark();
      await runtime.up(topology, opts());
      assert.ok(
        reporter.lines.some((l) => l.includes("node addresses changed since the last run")),
        reporter.lines.join("\n"),
      );
      const r = await renderFromState();
      fleet = r.fleet;
      const afterUp = await Promise.all(fleet.clusters.map((rc) => snapshot(api(rc))));
      let moved = 0;
      fleet.clusters.forEach((rc, i) => {
        assert.equal(r.discovered.nodeIP[rc.cluster], nodeIPs.get(rc.cluster)?.[0]);
        const was = new Map(
          rendered(old.clusters[i] as RenderedCluster).map((o) => [key(o), JSON.stringify(o)]),
        );
        const expected = rendered(rc)
          .filter((o) => was.get(key(o)) !== JSON.stringify(o))
          .map(key);
        const ours = new Set(rendered(rc).map(key));
        const actual = changedBetween(before[i] ?? new Map(), afterUp[i] ?? new Map()).filter(
          // The chart's objects move when helm upgrades; those are checked below.
          (k) => ours.has(k) || !k.includes("kube-prometheus-stack-"),
        );
        assert.deepEqual(actual, expected.sort(), `${rc.cluster}: objects changed`);
        moved += expected.length;
      });
      assert.ok(moved > 0);
      const live = (
        await Promise.all(fleet.clusters.flatMap((rc) => rendered(rc).map((o) => api(rc).get(refOf(o)))))
      )
        .map(readable)
        .join("\n");
      const used = (ip: string) => new RegExp(`(?<![0-9.])${ip.replaceAll(".", "\\.")}:\\d`).test(live);
      for (const [cluster, ips] of oldIPs) {
        const now = nodeIPs.get(cluster)?.[0] as string;
        // mgmt's address is used by the workload clusters' Grafana, through the chart's values; a cluster behind
        // load balancers is reached at their addresses, which stay; nothing dials into a receive-mode cluster.
        const config = topology.fleet.clusters.find((x) => x.name === cluster);
        const byNode = config?.serviceType === "NodePort";
        const dialled = !(config?.role === "workload" && config.mode === "receive");
        if (cluster !== topology.observer.name && byNode && dialled)
          assert.ok(used(now), `${cluster}'s new address ${now} is used`);
        for (const ip of ips) assert.ok(!used(ip), `${cluster}'s old address ${ip} is still used`);
      }
      const mgmtIP = nodeIPs.get(topology.observer.name)?.[0];
      for (const rc of fleet.clusters.filter((x) => x.role === "workload")) {
        assert.ok(
          world.recorder
            .since(mark)
            .some((l) => l.startsWith("$ helm upgrade --install") && l.includes(rc.context)),
        );
        const values = JSON.stringify(
          helm.releases.get(`${rc.context}|${NAMESPACE}|kube-prometheus-stack`)?.values,
        );
        assert.ok(
          values.includes(
            `${topology.fleet.tls.http ? "https" : "http"}://${mgmtIP}:${topology.observer.nodePorts.queryFrontend}`,
          ),
          `${rc.cluster}: Grafana → mgmt`,
        );
        const w = topology.workloads.find((x) => x.name === rc.cluster);
        if (w?.mode === "receive") {
          assert.ok(
            values.includes(`https://${mgmtIP}:${topology.observer.receive.nodePort}/api/v1/receive`),
            `${rc.cluster}: remote write → mgmt's new address`,
          );
        }
      }
    });

    test("a renamed bucket replaces the setup Job (its template is immutable) and updates the rest in place", async () => {
      const renamed = parseFleet({ ...topology.fleet, bucket: "thanos-renamed" }, "renamed.yaml");
      const storage = fleet.clusters.find((rc) => rc.role === "storage") as RenderedCluster;
      const job = storage.manifests.find((o) => o.kind === "Job") as KubeObject;
      const before = await snapshot(api(storage));
      await runtime.up(renamed, opts());
      const afterUp = await snapshot(api(storage));
      assert.notEqual(afterUp.get(key(job))?.uid, before.get(key(job))?.uid, "the Job is a new object");
      for (const [k, v] of afterUp)
        if (k !== key(job)) assert.equal(v.uid, before.get(k)?.uid, `${k} kept its uid`);
      assert.match(JSON.stringify((await api(storage).get(refOf(job)))?.spec), /"value":"thanos-renamed"/);
      fleet = (await renderFromState(renamed)).fleet;
    });

    test("down removes exactly what up installed; what others put there stays", async () => {
      const before = await Promise.all(fleet.clusters.map((rc) => snapshot(api(rc))));
      let claims = 0;
      for (const rc of fleet.clusters) claims += await claimAsTheController(core(rc), rendered(rc));
      // The storage server's data volume, and with receive one per ingester.
      const ingesters = usesReceive(topology.fleet) ? topology.observer.receive.ingesters : 0;
      assert.equal(claims, 1 + ingesters, "the storage server's and the ingesters' data volumes");
      const made = new Map<string, string[]>();
      for (const rc of fleet.clusters)
        made.set(rc.cluster, await podsAsTheControllers(kc(rc), await nodeOf(rc)));
      assert.ok(
        made.get(topology.workloads[0]?.name ?? "")?.some((p) => p.includes("prometheus-kube")),
        "the pods of the operator's StatefulSets, which are the Helm release's",
      );
      const mark = world.recorder.mark();
      const controllers = startControllers();
      try {
        await runtime.down(topology, { ...opts(), purge: false });
      } finally {
        await stopControllers(controllers);
      }
      for (const [i, rc] of fleet.clusters.entries()) {
        // Each pod was there until the kubelet confirmed it gone, and down returned only after that.
        const finished = new Set(controllers.flatMap((x) => x.finished));
        for (const pod of made.get(rc.cluster) ?? []) assert.ok(finished.has(pod), `${rc.cluster}: ${pod}`);
        const pods = (await core(rc).listNamespacedPod({ namespace: NAMESPACE })).items;
        assert.deepEqual(
          pods.map((p) => p.metadata?.name),
          [],
          `${rc.cluster}: pods left in ${NAMESPACE} when down returned`,
        );
        for (const [apiVersion, kind] of WATCHED) {
          const left = await api(rc).list(apiVersion, kind, { labelSelector: MANAGED_BY_SELECTOR });
          // A namespace that was there before up stays, without the labels up gave it.
          assert.deepEqual(left.map(key), [], `${rc.cluster}: ${kind} left by down`);
        }
        const ns = await api(rc).get({ apiVersion: "v1", kind: "Namespace", name: NAMESPACE });
        const theirs = rc.cluster === c.preexistingNamespace;
        // The namespace it created is gone when down returns; one that was there before stays.
        assert.equal(ns !== undefined, theirs, `${rc.cluster}: namespace ${NAMESPACE}`);
        if (ns) assert.equal(ns.metadata.deletionTimestamp, undefined);
        if (theirs) {
          const labels = Object.keys(ns?.metadata.labels ?? {}).filter((l) =>
            l.startsWith("app.kubernetes.io/"),
          );
          assert.deepEqual(labels, [], `${rc.cluster}: labels up gave namespace ${NAMESPACE}`);
        }
        const gone = new Set(changedBetween(before[i] ?? new Map(), await snapshot(api(rc))));
        for (const k of before[i]?.keys() ?? []) {
          const ours = rendered(rc).some((o) => key(o) === k) || k.includes("kube-prometheus-stack-");
          if (!ours && !(k === `Namespace /${NAMESPACE}`))
            assert.ok(!gone.has(k), `${rc.cluster}: ${k} was touched by down`);
        }
        if (theirs)
          assert.ok(
            await api(rc).get({
              apiVersion: "v1",
              kind: "ConfigMap",
              namespace: NAMESPACE,
              name: "their-dashboards",
            }),
          );
        assert.ok(
          await api(rc).get({ apiVersion: "v1", kind: "ConfigMap", namespace: "team-a", name: "notes" }),
        );
        assert.ok(await api(rc).getService("default", "their-app"));
        assert.equal((await api(rc).listNodes()).length, nodeIPs.get(rc.cluster)?.length);
        if (rc.role === "workload") {
          assert.ok(
            world.recorder
              .since(mark)
              .some((l) => l.startsWith("$ helm uninstall kube-prometheus-stack") && l.includes(rc.context)),
          );
        }
      }
      assert.deepEqual((await readState(stateDir)).clusters, {});
      assert.equal(
        world.recorder.since(mark).filter((l) => l.includes("kind delete")).length,
        0,
        "no cluster is deleted",
      );
      reporter.lines.length = 0;
      await runtime.down(topology, { ...opts(), purge: false });
      assert.ok(
        reporter.lines.some((l) => l.includes("nothing to remove")),
        reporter.lines.join("\n"),
      );
    });

    test("a pod a finalizer holds: down fails at its deadline naming it; let go, a second down finishes", async () => {
      await runtime.up(topology, opts());
      const observer = clusterOf(topology.observer.name);
      const hold = { owner: "thanos-store", finalizer: "thanos-fleet.test/hold" };
      for (const rc of fleet.clusters) {
        await podsAsTheControllers(kc(rc), await nodeOf(rc), rc === observer ? hold : undefined);
      }
      const controllers = startControllers();
      try {
        reporter.lines.length = 0;
        // The other clusters' pods go a second after they are deleted; mgmt's held pod never does.
        let message = "";
        await assert.rejects(
          runtime.down(topology, { ...opts(), purge: true, waitMs: 10_000 }),
          (err: Error) => {
            message = err.message;
            return true;
          },
        );
        assert.match(message, /^after 10s, what down deleted is still there: /);
        const named = message.split("; ").find((part) => part.includes(`(context ${observer.context})`));
        assert.ok(named, message);
        assert.match(named, /Pod monitoring\/thanos-store-0 \(finalizers: thanos-fleet\.test\/hold\)/);
        assert.match(named, /StatefulSet monitoring\/thanos-store[,.]/, "its owner waits for it");
        assert.match(
          message,
          new RegExp(`'kubectl --context ${observer.context} -n monitoring get all,pvc'`),
        );
        assert.match(message, /run 'thanos-fleet down' again/);
        assert.ok(
          reporter.lines.some((l) => /^ {2}\d+ still being deleted: .*\bmgmt: /.test(l)),
          reporter.lines.join("\n"),
        );
        // What the state dir still records is exactly what the message names; --purge kept the state.
        const recorded = Object.keys((await readState(stateDir)).clusters);
        assert.ok(recorded.includes(observer.cluster));
        for (const rc of fleet.clusters) {
          assert.equal(
            message.includes(`${rc.cluster} (context ${rc.context})`),
            recorded.includes(rc.cluster),
            `${rc.cluster}: named in the error as recorded in the state`,
          );
        }
        await core(observer).patchNamespacedPod(
          { name: "thanos-store-0", namespace: NAMESPACE, body: { metadata: { finalizers: null } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
        await runtime.down(topology, { ...opts(), purge: true });
      } finally {
        await stopControllers(controllers);
      }
      for (const rc of fleet.clusters) {
        const pods = (await core(rc).listNamespacedPod({ namespace: NAMESPACE })).items;
        assert.deepEqual(
          pods.map((p) => p.metadata?.name),
          [],
          `${rc.cluster}: pods left`,
        );
      }
      assert.deepEqual((await readState(stateDir)).clusters, {});
    });
  });
}
