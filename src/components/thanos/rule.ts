// The ruler: evaluates the fleet's rules and HA alerts through query, sends alerts to mgmt's Alertmanager, and
// serves what it records over the StoreAPI.

import { parseDuration } from "../../duration.ts";
import type { Topology, Workload } from "../../topology/topology.ts";
import { stringify } from "../../yaml.ts";
import { ALERTMANAGER_PORT } from "../alertmanager.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec, StoreApiServer } from "../types.ts";
import { POD_NAME, podName, START_STAGE } from "../types.ts";
import { webClient } from "../web.ts";
import {
  GRPC_PORT,
  grpcServerTls,
  HTTP_PORT,
  listenArgs,
  type MgmtFacts,
  mgmtComponent,
  objstore,
  WORKLOAD,
} from "./common.ts";
import { COMPACTOR_JOB } from "./compact.ts";

export const RULES_FILE = "fleet-rules.yaml";
const FACTS: MgmtFacts = {
  name: WORKLOAD.rule,
  container: "thanos-ruler",
  component: "rule",
  sizing: { memory: 64, limit: 512, cpu: 25 },
  replicas: (topology) => topology.observer.rulerReplicas,
  // Each replica's ruler_replica label is its pod name: the names must be stable.
  stateful: true,
  stage: START_STAGE.mgmtQuery,
  headless: true,
};
const NAME = FACTS.name;

/** Pod names of the ruler replicas; each is also that replica's ruler_replica label. */
export function rulerPodNames(topology: Topology): string[] {
  return Array.from({ length: topology.observer.rulerReplicas }, (_, i) => podName(NAME, i));
}

/** The group verify expects every ruler to evaluate: a watchdog that always fires and a per-cluster summary. */
const BASE_GROUP = {
  name: "thanos-fleet",
  interval: "15s",
  // One workload cluster down must not stop global rules: evaluate on what answers, with a warning.
  partial_response_strategy: "warn",
  rules: [
    { record: "cluster:up:sum", expr: "sum by (cluster) (up)" },
    {
      alert: "FleetWatchdog",
      expr: "vector(1)",
      labels: { severity: "none" },
      annotations: { summary: "Always firing: proves that the ruler reaches the Alertmanager." },
    },
  ],
};

export const HA_ALERTS = {
  prometheusDown: "FleetPrometheusReplicaDown",
  sidecarDown: "FleetSidecarDown",
  clusterMissing: "FleetClusterMissing",
  uploadStalled: "FleetBucketUploadStalled",
  compactorHalted: "FleetCompactorHalted",
} as const;

/** How long an HA alert's condition must hold before it fires: a restart that heals at once stays quiet. */
export const HA_ALERT_FOR = "30s";

/**
 * Alerts on the global view, evaluated by the ruler through query. Each Prometheus replica scrapes its peers and
 * their sidecars, so a dead replica or sidecar is an `up == 0` its peer still reports; a cluster of which query
 * has no recent sample at all is cut off; a sidecar that has not uploaded for 2.5 block lengths is stalled; the
 * compactor, which every workload cluster scrapes (one series per cluster), has halted.
 */
export function haRules(topology: Topology, blockDuration: string): Record<string, unknown> {
  const stallSeconds = Math.round((2.5 * parseDuration(blockDuration)) / 1000) + 60;
  const fresh = (w: Workload) =>
    Math.max(60, 3 * Math.round(parseDuration(w.prometheus.scrapeInterval) / 1000));
  return {
    name: "thanos-fleet-ha",
    interval: "15s",
    partial_response_strategy: "warn",
    rules: [
      {
        alert: HA_ALERTS.prometheusDown,
        expr: 'up{job="prometheus"} == 0',
        for: HA_ALERT_FOR,
        labels: { severity: "warning" },
        annotations: {
          summary:
            "Prometheus {{ $labels.instance }} in {{ $labels.cluster }} is down; its peer replica still scrapes.",
        },
      },
      {
        alert: HA_ALERTS.sidecarDown,
        expr: 'up{job="thanos-sidecar"} == 0',
        for: HA_ALERT_FOR,
        labels: { severity: "warning" },
        annotations: {
          summary:
            "Thanos sidecar {{ $labels.instance }} in {{ $labels.cluster }} is down: its Prometheus is out of the global view.",
        },
      },
      ...topology.workloads.map((w) => ({
        alert: HA_ALERTS.clusterMissing,
        expr: `(count(timestamp(up{${labelMatchers(w.labels)}}) > time() - ${fresh(w)}) or vector(0)) == 0`,
        for: HA_ALERT_FOR,
        labels: { severity: "critical", ...w.labels },
        annotations: {
          summary: `Workload cluster ${w.name} has no recent sample in the global view: both of its sidecars are unreachable.`,
        },
      })),
      {
        alert: HA_ALERTS.uploadStalled,
        expr:
          `time() - thanos_objstore_bucket_last_successful_upload_time{job="thanos-sidecar"} > ${stallSeconds}` +
          ' and thanos_objstore_bucket_last_successful_upload_time{job="thanos-sidecar"} > 0',
        labels: { severity: "warning" },
        annotations: {
          summary: `Sidecar {{ $labels.instance }} in {{ $labels.cluster }} has uploaded no block for ${stallSeconds} s: the bucket is unreachable or refuses it.`,
        },
      },
      {
        alert: HA_ALERTS.compactorHalted,
        // A halt is a state, not a blip: five minutes, as Thanos's own mixin waits.
        expr: `max by (job, instance) (thanos_compact_halted{job="${COMPACTOR_JOB}"}) == 1`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: {
          summary:
            "The compactor {{ $labels.instance }} has halted (overlapping blocks, most often): nothing is compacted or downsampled until it is fixed and restarted.",
        },
      },
    ],
  };
}

function labelMatchers(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");
}

/** The ruler's rule file: the group verify expects, and, given the fleet, the HA alerts a drill expects. */
export function fleetRules(fleet?: { topology: Topology; blockDuration: string }): string {
  return stringify({
    groups: [BASE_GROUP, ...(fleet ? [haRules(fleet.topology, fleet.blockDuration)] : [])],
  });
}

/**
 * The ruler's external labels: only its replica label. A `cluster` label here would overwrite the `cluster`
 * of every series its rules record, collapsing per-cluster results into one series.
 */
export function rulerLabels(_topology: Topology, pod: string): Record<string, string> {
  return { ruler_replica: pod };
}

const RULER_QUERY_FILE = "query.yaml";
const RULER_ALERTMANAGERS_FILE = "alertmanagers.yaml";

export function ruler(topology: Topology, ctx: SpecContext): ComponentSpec {
  const mgmt = topology.observer.name;
  const store = objstore(ctx, NAME, FACTS.container);
  const tls = grpcServerTls(ctx, NAME, FACTS.container);
  const labels = rulerLabels(topology, POD_NAME);
  const dir = ctx.configDir(NAME, FACTS.container);
  // Query and mgmt's Alertmanager are exposed: with `tls.http` the ruler reaches them over HTTPS, with its client
  // certificate.
  const client = webClient(ctx, dir);
  const queryAddress = ctx.addresses.service(mgmt, WORKLOAD.query, HTTP_PORT);
  const alertmanagerAddress = ctx.addresses.service(mgmt, WORKLOAD.alertmanager, ALERTMANAGER_PORT);
  // Without it, the guide's flags, unchanged.
  const targets = client.tlsConfig
    ? {
        args: [
          `--query.config-file=${dir}/${RULER_QUERY_FILE}`,
          `--alertmanagers.config-file=${dir}/${RULER_ALERTMANAGERS_FILE}`,
        ],
        files: [
          {
            name: RULER_QUERY_FILE,
            content: stringify([
              {
                http_config: { tls_config: client.tlsConfig },
                scheme: client.scheme,
                static_configs: [queryAddress],
              },
            ]),
          },
          {
            name: RULER_ALERTMANAGERS_FILE,
            content: stringify({
              alertmanagers: [
                {
                  http_config: { tls_config: client.tlsConfig },
                  scheme: client.scheme,
                  static_configs: [alertmanagerAddress],
                  api_version: "v2",
                },
              ],
            }),
          },
          ...client.files,
        ],
      }
    : {
        args: [`--query=http://${queryAddress}`, `--alertmanagers.url=http://${alertmanagerAddress}`],
        files: [],
      };
  const args = [
    "rule",
    ...listenArgs(ctx),
    `--data-dir=${ctx.dataDir(NAME, FACTS.container)}`,
    store.arg,
    `--rule-file=${ctx.configDir(NAME, FACTS.container)}/${RULES_FILE}`,
    ...targets.args,
    ...Object.entries(labels).map(([k, v]) => `--label=${k}="${v}"`),
    "--alert.label-drop=ruler_replica",
    "--eval-interval=15s",
    `--tsdb.block-duration=${ctx.blockDuration}`,
    ...tls.args,
  ];
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: {
      files: [
        ...store.files,
        { name: RULES_FILE, content: fleetRules({ topology, blockDuration: ctx.blockDuration }) },
        ...tls.files,
        ...targets.files,
      ],
      dataDir: ctx.dataDir(NAME, FACTS.container),
    },
    ports: { grpc: {}, http: {} },
    storeLabels: (pod) => rulerLabels(topology, pod),
  });
}

/** Each ruler replica, dialled by its pod address. */
export function rulerStoreApis(topology: Topology): StoreApiServer[] {
  const mgmt = topology.observer.name;
  return rulerPodNames(topology).map((pod, i): StoreApiServer => {
    return {
      type: "rule",
      component: "rule",
      cluster: mgmt,
      pod,
      labels: rulerLabels(topology, pod),
      container: FACTS.container,
      title: "ruler",
      unreachable: "the ruler is down or its pod address is unreachable from query",
      address: (addresses) => addresses.pod(mgmt, NAME, i, GRPC_PORT),
    };
  });
}
