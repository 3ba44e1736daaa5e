// What the fleet must show, derived from the topology and the component specs, never from the running system.

import { parse } from "yaml";
import { NAMESPACE } from "../components/context.ts";
import { fleetRules, prometheusLabels, rulerLabels, WORKLOAD } from "../components/thanos.ts";
import type { ComponentKind } from "../components/types.ts";
import { durationOr } from "../duration.ts";
import type { FleetEndpoints, Target } from "../endpoints.ts";
import { labelSetKey } from "../topology/semantics.ts";
import { rulerReplicaName, type Topology } from "../topology/topology.ts";

export interface ExpectedStore {
  /** The type query lists it under in /api/v1/stores. */
  type: "sidecar" | "store" | "rule";
  cluster: string;
  pod: string;
  /** Its external labels; the store gateway's follow its blocks, so none are expected. */
  labels?: Record<string, string>;
  /** The component that serves it, to find its target. */
  component: ComponentKind;
}

export const STORE_GATEWAY_POD = `${WORKLOAD.store}-0`;

/** Every StoreAPI each query replica must see: each sidecar replica, the store gateway, each ruler. */
export function expectedStores(topology: Topology): ExpectedStore[] {
  const mgmt = topology.observer.name;
  const sidecars = topology.workloads.flatMap((w) =>
    w.replicaNames.map(
      (pod): ExpectedStore => ({
        type: "sidecar",
        cluster: w.name,
        pod,
        labels: prometheusLabels(w, pod),
        component: "sidecar",
      }),
    ),
  );
  const rulers = Array.from({ length: topology.observer.rulerReplicas }, (_, i): ExpectedStore => {
    const pod = rulerReplicaName(i);
    return { type: "rule", cluster: mgmt, pod, labels: rulerLabels(topology, pod), component: "rule" };
  });
  return [
    ...sidecars,
    { type: "store", cluster: mgmt, pod: STORE_GATEWAY_POD, component: "store" },
    ...rulers,
  ];
}

export function queryPods(topology: Topology): string[] {
  return Array.from({ length: topology.observer.queryReplicas }, (_, i) => `${WORKLOAD.query}-${i}`);
}

export function target(
  endpoints: FleetEndpoints,
  cluster: string,
  component: Target["component"],
  pod?: string,
): Target | undefined {
  return endpoints.targets.find(
    (t) => t.cluster === cluster && t.component === component && (pod === undefined || t.pod === pod),
  );
}

export function describeLabels(labels: Record<string, string>): string {
  return `{${labelSetKey(labels)}}`;
}

export function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  return labelSetKey(a) === labelSetKey(b);
}

/** The workload a label set belongs to: the one whose labels it carries, with one of its replica names. */
export function workloadOf(topology: Topology, labels: Record<string, string>) {
  return topology.workloads.find((w) => Object.entries(w.labels).every(([k, v]) => labels[k] === v));
}

export interface ExpectedRuleGroup {
  name: string;
  intervalMs: number;
  rules: { name: string; type: "alerting" | "recording" }[];
}

export const WATCHDOG_ALERT = "FleetWatchdog";

/** The rule groups every ruler loads (fleetRules in the component specs). */
export function expectedRuleGroups(): ExpectedRuleGroup[] {
  const doc = parse(fleetRules()) as {
    groups: { name: string; interval?: string; rules: { alert?: string; record?: string }[] }[];
  };
  return doc.groups.map((g) => ({
    name: g.name,
    intervalMs: durationOr(g.interval ?? "1m", 60_000),
    rules: g.rules.map((r) =>
      r.alert
        ? { name: r.alert, type: "alerting" as const }
        : { name: r.record ?? "", type: "recording" as const },
    ),
  }));
}

/** thanos-fleet's workloads that keep no data run as Deployments (see src/render/workloads.ts). */
const DEPLOYMENTS = new Set<string>([WORKLOAD.query, WORKLOAD.queryFrontend, WORKLOAD.bucketWeb]);

/** Where a user looks next when a process misbehaves, in the words of the runtime it runs on. */
export function inspectHint(
  topology: Topology,
  endpoints: FleetEndpoints,
  cluster: string,
  pod: string,
  container?: string,
): string {
  if (endpoints.runtime === "local") {
    return "run `thanos-fleet up --runtime local`: it starts again what is dead and replaces what differs from fleet.yaml (the supervisor does so by itself within its back-off; `thanos-fleet status --runtime local` shows RESTARTS, STATE and a crash loop's log)";
  }
  const context = topology.fleet.clusters.find((c) => c.name === cluster)?.context ?? `kind-${cluster}`;
  const kubectl = `kubectl --context ${context} -n ${NAMESPACE}`;
  const c = container ? ` -c ${container}` : "";
  // Deployments have pods with random names: name them by Deployment (or label, for several replicas).
  if (pod.startsWith("deploy/")) {
    return `run \`${kubectl} logs ${pod}${c}\` and \`${kubectl} get ${pod.replace("/", " ")}\``;
  }
  const workload = pod.replace(/-\d+$/, "");
  if (DEPLOYMENTS.has(workload)) {
    const selector = `-l app.kubernetes.io/name=${workload}`;
    return `run \`${kubectl} logs ${selector}${c}\` and \`${kubectl} get pods ${selector}\``;
  }
  return `run \`${kubectl} logs ${pod}${c}\` and \`${kubectl} get pod ${pod}\``;
}
