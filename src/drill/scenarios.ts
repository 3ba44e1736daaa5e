import { queryPodNames } from "../components/thanos/query.ts";
import {
  INGESTER_MIN_READY_SECONDS,
  ingesterPodNames,
  receiveWorkloads,
  routerPodNames,
} from "../components/thanos/receive.ts";
import { HA_ALERTS, rulerPodNames } from "../components/thanos/rule.ts";
import type { ComponentKind } from "../components/types.ts";
import type { Topology } from "../topology/topology.ts";

/** One process or pod to break: by cluster and component, optionally one pod of it. */
export interface Victim {
  cluster: string;
  component: ComponentKind | "object-store";
  pod?: string;
}

export type FaultMode =
  /** Killed and kept down (a pod scaled to zero) until the fault is lifted. */
  | "down"
  /** Killed once; whatever runs it starts it again (kubelet, the local supervisor). */
  | "restart"
  /**
   * The victims unreachable through their cluster's load balancer, everything runs: a cluster's sidecars from the
   * others, or mgmt's receive routers from the clusters that write to them.
   */
  | "cut-off"
  /**
   * Each victim in turn, in the order given, as an upgrade replaces a StatefulSet's pods: stopped gracefully
   * (SIGTERM), started again, and ready before the next is stopped. The hold lasts until the last is ready.
   */
  | "rollout"
  /** Nothing broken: every server's certificate renewed and handed to the running processes (`certs rotate`). */
  | "rotate-certs";

export interface Scenario {
  id: string;
  title: string;
  mode: FaultMode;
  victims: Victim[];
  /** The global view keeps every series while the fault lasts (same deduplicated count). */
  completeDuring: boolean;
  /** An alert the ruler must fire while the fault lasts, with labels it must carry. */
  alert?: { name: string; labels: Record<string, string> };
  /** How long the fault lasts at least, in block durations (object store) or ms. */
  hold: { blockDurations: number } | { ms: number; atMostBlockDurations?: number };
  /** After the fault, each sidecar's uploads must reach past its start (nothing waits forever in a sidecar). */
  uploadsCatchUp?: boolean;
  /** A rollout: how long each replaced victim stays ready before the next is stopped (minReadySeconds). */
  minReadyMs?: number;
  /** No remote write to receive fails while the fault lasts (the write quorum holds). */
  noFailedWrites?: boolean;
  /**
   * The global view queried without pause from before the fault until after it, each query on a new connection (a
   * new TLS handshake with query-frontend): none may fail.
   */
  continuousQueries?: boolean;
}

/**
 * The scenarios of fleet.yaml's first workload cluster and its mgmt cluster. A replica held down is the last one:
 * scaling a StatefulSet down by one removes exactly that pod.
 */
export function scenarios(topology: Topology, _opts: { runtime?: string } = {}): Scenario[] {
  const w = topology.workloads[0];
  const mgmt = topology.observer.name;
  if (!w) return [];
  const lastReplica = w.replicaNames[w.replicaNames.length - 1] as string;
  const lastQuery = queryPodNames(topology).at(-1) as string;
  const lastRuler = rulerPodNames(topology).at(-1) as string;
  const last = topology.workloads[topology.workloads.length - 1] ?? w;
  const out: Scenario[] = [
    {
      id: "prometheus-replica",
      title: `one Prometheus replica of ${w.name} down (${lastReplica})`,
      mode: "down",
      victims: [{ cluster: w.name, component: "prometheus", pod: lastReplica }],
      completeDuring: true,
      alert: { name: HA_ALERTS.prometheusDown, labels: { cluster: w.name } },
      hold: { ms: 45_000 },
    },
    {
      id: "sidecar",
      title: `one sidecar of ${w.name} down (${lastReplica})`,
      mode: "down",
      victims: [{ cluster: w.name, component: "sidecar", pod: lastReplica }],
      completeDuring: true,
      alert: { name: HA_ALERTS.sidecarDown, labels: { cluster: w.name } },
      hold: { ms: 45_000 },
    },
    {
      id: "cluster-cut-off",
      title: `workload cluster ${last.name} cut off (both replicas unreachable from ${mgmt})`,
      mode: "cut-off",
      victims: [{ cluster: last.name, component: "sidecar" }],
      // Its recent samples are out of reach while it is cut off; after, the range across the outage is whole.
      completeDuring: false,
      alert: { name: HA_ALERTS.clusterMissing, labels: { cluster: last.name } },
      hold: { ms: 45_000 },
    },
    {
      id: "query-replica",
      title: "one query replica down behind query-frontend",
      mode: "down",
      victims: [{ cluster: mgmt, component: "query", pod: lastQuery }],
      completeDuring: true,
      hold: { ms: 45_000 },
    },
    {
      id: "store-gateway",
      title: "store gateway down",
      mode: "down",
      victims: [{ cluster: mgmt, component: "store" }],
      completeDuring: true,
      hold: { ms: 45_000 },
    },
    {
      id: "ruler-replica",
      title: "one ruler replica down",
      mode: "down",
      victims: [{ cluster: mgmt, component: "rule", pod: lastRuler }],
      completeDuring: true,
      alert: { name: "FleetWatchdog", labels: {} },
      hold: { ms: 45_000 },
    },
    {
      id: "object-store",
      title: "object store down for two block periods",
      mode: "down",
      victims: [{ cluster: topology.storage?.name ?? mgmt, component: "object-store" }],
      completeDuring: true,
      hold: { blockDurations: 2 },
      uploadsCatchUp: true,
    },
    {
      id: "compactor-restart",
      title: "compactor restarted mid-run",
      mode: "restart",
      victims: [{ cluster: mgmt, component: "compact" }],
      completeDuring: true,
      hold: { ms: 0 },
    },
  ];
  out.push(...receiveScenarios(topology));
  // Rotation without restarts, in place on both runtimes (local: one rename per copy; Kubernetes: each server's
  // Secret, which the kubelet syncs into its pods).
  if (topology.fleet.tls.grpc || topology.fleet.tls.http) {
    out.push({
      id: "cert-rotation",
      title: "every server's certificate rotated on the running fleet (certs rotate)",
      mode: "rotate-certs",
      victims: [],
      completeDuring: true,
      hold: { ms: 30_000 },
      continuousQueries: true,
    });
  }
  if (w.replicaNames.length < 2) {
    // Without a peer nothing scrapes the dead replica: no alert can name it, and the view loses its series.
    const first = out[0] as Scenario;
    delete first.alert;
  }
  return out;
}

/**
 * With receive-mode clusters: one ingester killed and held down, which replication factor 3 survives; every ingester
 * replaced in turn (an upgrade); a router down; the writers cut off from the routers.
 */
function receiveScenarios(topology: Topology): Scenario[] {
  if (receiveWorkloads(topology).length === 0) return [];
  const ingesters = ingesterPodNames(topology);
  const last = ingesters[ingesters.length - 1] as string;
  const routers = routerPodNames(topology);
  const lastRouter = routers[routers.length - 1] as string;
  const mgmt = topology.observer.name;
  // A StatefulSet's rolling update goes from the highest ordinal down.
  const rollout = [...ingesters].reverse();
  return [
    {
      id: "ingester",
      title: `one receive ingester down (${last}), replication factor ${topology.observer.receive.replicationFactor}`,
      mode: "down",
      victims: [{ cluster: topology.observer.name, component: "receive-ingester", pod: last }],
      completeDuring: true,
      hold: { ms: 60_000 },
      noFailedWrites: true,
    },
    {
      id: "router",
      title: `one receive router down (${lastRouter})`,
      mode: "down",
      victims: [{ cluster: mgmt, component: "receive-router", pod: lastRouter }],
      completeDuring: true,
      hold: { ms: 45_000 },
      // A write the killed router had in flight is retried by Prometheus on the other one: nothing is dropped.
      noFailedWrites: true,
    },
    // What keeps writes whole while the ingesters roll (thanos-io/thanos#8727 reports 503s): replication factor 3, so a
    // write needs 2 of its 3 copies and one ingester away at a time leaves 2; the next one stopped only once the
    // last is ready (`/-/ready`: its TSDB open and serving); a graceful stop (SIGTERM), so no forward hangs on a
    // dead peer until its 5 s timeout; and each replaced ingester ready for the ingesters' minReadySeconds before the
    // next is stopped: a router that saw an ingester fail skips it for up to 5 s (its hidden
    // `--receive-forward-max-backoff`) after it is back, and one stopped within that window leaves a series 1 copy
    // short (a 503 that Prometheus retries, counted here). Kubernetes's StatefulSet controller waits the same time.
    {
      id: "ingester-rollout",
      title: `every receive ingester replaced one at a time, as an upgrade does (${rollout.join(", ")})`,
      mode: "rollout",
      victims: rollout.map((pod) => ({ cluster: mgmt, component: "receive-ingester", pod })),
      completeDuring: true,
      hold: { ms: 0 },
      minReadyMs: INGESTER_MIN_READY_SECONDS * 1000,
      noFailedWrites: true,
    },
    {
      id: "receive-cut-off",
      title: `the receive-mode clusters cut off from ${mgmt}'s remote-write endpoint for 2 minutes (less with short blocks)`,
      mode: "cut-off",
      victims: [{ cluster: mgmt, component: "receive-router" }],
      // Their recent samples wait in each Prometheus's WAL while cut off; after, the range across the outage is whole.
      completeDuring: false,
      // An ingester's head keeps the last half block at least: a sample resent from the WAL after longer is out of
      // bounds and dropped (409). 2 minutes with the 2h blocks of production; 0.4 block with the local runtime's
      // minute-long ones.
      hold: { ms: 120_000, atMostBlockDurations: 0.4 },
      noFailedWrites: true,
    },
  ];
}

export function scenarioIds(topology: Topology, opts: { runtime?: string } = {}): string[] {
  return scenarios(topology, opts).map((s) => s.id);
}
