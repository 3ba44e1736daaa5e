// What the fleet must show, derived from the topology and the component specs, never from the running system.

import { parse } from "yaml";
import { NAMESPACE } from "../components/context.ts";
import { deploymentWorkloads, storeApiServers } from "../components/fleet.ts";
import { queryPodNames } from "../components/thanos/query.ts";
import { fleetRules } from "../components/thanos/rule.ts";
import type { ComponentKind, StoreApiServer } from "../components/types.ts";
import { durationOr } from "../duration.ts";
import type { FleetEndpoints, Target } from "../endpoints.ts";
import { labelSetKey } from "../topology/semantics.ts";
import type { Topology } from "../topology/topology.ts";

export interface ExpectedStore {
  /** The type query lists it under in /api/v1/stores. */
  type: StoreApiServer["type"];
  cluster: string;
  pod: string;
  /** Its external labels; the store gateway's follow its blocks, so none are expected. */
  labels?: Record<string, string>;
  /** The component that serves it, to find its target. */
  component: ComponentKind;
  /** The container that serves it, for the hint. */
  container: string;
  /** What it is, in words. */
  title: string;
  /** Why query would not list it. */
  unreachable: string;
}

/** Every StoreAPI each query replica must see: the fleet's StoreAPI servers, as the component specs give them. */
export function expectedStores(topology: Topology): ExpectedStore[] {
  return storeApiServers(topology).map(
    ({ type, cluster, pod, labels, component, container, title, unreachable }) => ({
      type,
      cluster,
      pod,
      ...(labels ? { labels } : {}),
      component,
      container,
      title,
      unreachable,
    }),
  );
}

/** The workload clusters query dials sidecars in; the others remote-write to receive. */
export function sidecarWorkloads(topology: Topology): Topology["workloads"] {
  return topology.workloads.filter((w) => w.mode === "sidecar");
}

export function queryPods(topology: Topology): string[] {
  return queryPodNames(topology);
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

/**
 * The local runtime's hint, true when it is printed: the supervisor restarts a dead process only while it runs and
 * the process is not held down.
 */
function localHint(endpoints: FleetEndpoints, cluster: string, pod: string, container?: string): string {
  const up =
    "run `thanos-fleet up --runtime local`: it starts again what is dead and replaces what differs from fleet.yaml";
  const status = "`thanos-fleet status --runtime local` shows RESTARTS, STATE and a crash loop's log";
  const s = endpoints.supervisor;
  if (!s) return `${up}; ${status}`;
  if (!s.running)
    return `${up}, and the supervisor, which is not running: nothing restarts a dead process by itself now; ${status}`;
  const held = s.held.some(
    (h) => h.cluster === cluster && h.pod === pod && (container === undefined || h.container === container),
  );
  if (held)
    return `${up}; it is held down on purpose (a drill's fault): the supervisor leaves it dead until \`up\` or the drill lifts the hold; ${status}`;
  return `${up} (the supervisor does so by itself within its back-off); ${status}`;
}

/** Where a user looks next when a process misbehaves, in the words of the runtime it runs on. */
export function inspectHint(
  topology: Topology,
  endpoints: FleetEndpoints,
  cluster: string,
  pod: string,
  container?: string,
): string {
  if (endpoints.runtime === "local") return localHint(endpoints, cluster, pod, container);
  const context = topology.fleet.clusters.find((c) => c.name === cluster)?.context ?? `kind-${cluster}`;
  const kubectl = `kubectl --context ${context} -n ${NAMESPACE}`;
  const c = container ? ` -c ${container}` : "";
  // Deployments have pods with random names: name them by Deployment (or label, for several replicas).
  if (pod.startsWith("deploy/")) {
    return `run \`${kubectl} logs ${pod}${c}\` and \`${kubectl} get ${pod.replace("/", " ")}\``;
  }
  const workload = pod.replace(/-\d+$/, "");
  if (deploymentWorkloads(topology).includes(workload)) {
    const selector = `-l app.kubernetes.io/name=${workload}`;
    return `run \`${kubectl} logs ${selector}${c}\` and \`${kubectl} get pods ${selector}\``;
  }
  return `run \`${kubectl} logs ${pod}${c}\` and \`${kubectl} get pod ${pod}\``;
}
