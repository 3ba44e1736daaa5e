// Every Thanos process of the fleet: the flags are decided here and nowhere else.

import { parseDuration } from "../duration.ts";
import { REPLICA_LABELS } from "../topology/semantics.ts";
import type { Topology, Workload } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import { POD_IP, type SpecContext } from "./context.ts";
import { OBJSTORE_FILE, objstoreConfig } from "./objstore.ts";
import { type ConfigFile, type Container, POD_NAME, type PodSpec, type Port } from "./types.ts";

export const GRPC_PORT = 10901;
export const HTTP_PORT = 10902;
export const RULES_FILE = "fleet-rules.yaml";
export const QFE_CACHE_FILE = "query-range-cache.yaml";
export const ENDPOINTS_FILE = "endpoints.yaml";
export const TLS_FILES = {
  ca: "grpc-ca.crt",
  cert: "grpc-tls.crt",
  key: "grpc-tls.key",
} as const;

export const WORKLOAD = {
  query: "thanos-query",
  queryFrontend: "thanos-query-frontend",
  store: "thanos-store",
  compact: "thanos-compact",
  rule: "thanos-ruler",
  bucketWeb: "thanos-bucket-web",
  alertmanager: "alertmanager",
} as const;

const grpcAndHttp: Port[] = [
  { name: "grpc", port: GRPC_PORT, protocol: "grpc" },
  { name: "http", port: HTTP_PORT, protocol: "http" },
];
const httpOnly: Port[] = [{ name: "http", port: HTTP_PORT, protocol: "http" }];
const ready = { port: "http", path: "/-/ready" };

function thanosContainer(
  topology: Topology,
  name: string,
  component: Container["component"],
  args: string[],
  rest: Partial<Container> = {},
): Container {
  const version = topology.fleet.versions.thanos;
  return {
    name,
    component,
    binary: "thanos",
    image: `quay.io/thanos/thanos:${version}`,
    args: [...args, "--log.level=info", "--log.format=logfmt"],
    files: [],
    ports: grpcAndHttp,
    readiness: ready,
    ...rest,
  };
}

function listen(ctx: SpecContext, port: number): string {
  return `${ctx.listenHost}:${port}`;
}

function objstore(ctx: SpecContext, workload: string, container: string) {
  return {
    arg: `--objstore.config-file=${ctx.configDir(workload, container)}/${OBJSTORE_FILE}`,
    file: { name: OBJSTORE_FILE, content: objstoreConfig(ctx.objectStore), secret: true },
  };
}

/**
 * With `tls.grpc`, a StoreAPI server presents the fleet's server certificate and accepts only clients with a
 * certificate from the fleet CA; without it, nothing changes.
 */
function grpcServerTls(ctx: SpecContext, workload: string, container: string) {
  const tls = ctx.grpcTls;
  if (!tls) return { args: [], files: [] };
  const dir = ctx.configDir(workload, container);
  return {
    args: [
      `--grpc-server-tls-cert=${dir}/${TLS_FILES.cert}`,
      `--grpc-server-tls-key=${dir}/${TLS_FILES.key}`,
      `--grpc-server-tls-client-ca=${dir}/${TLS_FILES.ca}`,
    ],
    files: [
      { name: TLS_FILES.ca, content: tls.ca },
      { name: TLS_FILES.cert, content: tls.cert },
      { name: TLS_FILES.key, content: tls.key, secret: true },
    ],
  };
}

/** The sidecar next to each Prometheus replica: the args the Prometheus Operator gives it. */
export function sidecarContainer(topology: Topology, ctx: SpecContext, workload: string): Container {
  const store = objstore(ctx, workload, "thanos-sidecar");
  const tls = grpcServerTls(ctx, workload, "thanos-sidecar");
  return thanosContainer(
    topology,
    "thanos-sidecar",
    "sidecar",
    [
      "sidecar",
      `--prometheus.url=http://${ctx.listenHost === "0.0.0.0" ? "localhost" : POD_IP}:9090`,
      `--tsdb.path=${ctx.dataDir(workload, "prometheus")}`,
      `--grpc-address=${listen(ctx, GRPC_PORT)}`,
      `--http-address=${listen(ctx, HTTP_PORT)}`,
      store.arg,
      ...tls.args,
    ],
    { files: [store.file, ...tls.files] },
  );
}

/** Every StoreAPI a query replica fans out to: one address per sidecar replica, the store gateway, each ruler. */
export function queryEndpoints(topology: Topology, ctx: SpecContext): string[] {
  const { addresses } = ctx;
  const mgmt = topology.observer.name;
  const sidecars = topology.workloads.flatMap((w) =>
    w.replicaNames.map((_, i) => addresses.exposed(w.name, w.nodePorts.sidecarGrpc + i)),
  );
  const rulers = Array.from({ length: topology.observer.rulerReplicas }, (_, i) =>
    addresses.pod(mgmt, WORKLOAD.rule, i, GRPC_PORT),
  );
  return [...sidecars, addresses.service(mgmt, WORKLOAD.store, GRPC_PORT), ...rulers];
}

/**
 * The query's endpoint config file: `--endpoint` is deprecated in v0.42 and `--store` is gone; the file is
 * re-read, so new node addresses (Docker gives new IPs after a restart) need no restart of query.
 */
export function endpointsConfig(topology: Topology, ctx: SpecContext): string {
  const endpoints = queryEndpoints(topology, ctx).map((address) => ({ address }));
  const tls = ctx.grpcTls;
  if (!tls) return stringify({ endpoints });
  const dir = ctx.configDir(WORKLOAD.query, "thanos-query");
  return stringify({
    // Every endpoint is verified against the fleet CA under one name, whatever address query dials.
    default_client_config: {
      tls_config: {
        enabled: true,
        ca_file: `${dir}/${TLS_FILES.ca}`,
        cert_file: `${dir}/${QUERY_CLIENT_FILES.cert}`,
        key_file: `${dir}/${QUERY_CLIENT_FILES.key}`,
      },
      server_name: tls.serverName,
    },
    endpoints,
  });
}

const QUERY_CLIENT_FILES = { cert: "grpc-client.crt", key: "grpc-client.key" } as const;

/** The files query's endpoint config refers to: the CA and query's own client certificate. */
function queryClientTlsFiles(ctx: SpecContext): ConfigFile[] {
  const tls = ctx.grpcTls;
  if (!tls) return [];
  return [
    { name: TLS_FILES.ca, content: tls.ca },
    { name: QUERY_CLIENT_FILES.cert, content: tls.clientCert },
    { name: QUERY_CLIENT_FILES.key, content: tls.clientKey, secret: true },
  ];
}

export function queryPod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.query;
  const args = [
    "query",
    `--grpc-address=${listen(ctx, GRPC_PORT)}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    ...REPLICA_LABELS.map((l) => `--query.replica-label=${l}`),
    "--query.auto-downsampling",
    `--endpoint.sd-config-file=${ctx.configDir(name, "thanos-query")}/${ENDPOINTS_FILE}`,
    "--endpoint.sd-config-reload-interval=30s",
  ];
  return {
    cluster: topology.observer.name,
    name,
    replicas: topology.observer.queryReplicas,
    containers: [
      thanosContainer(topology, "thanos-query", "query", args, {
        files: [
          { name: ENDPOINTS_FILE, content: endpointsConfig(topology, ctx) },
          ...queryClientTlsFiles(ctx),
        ],
      }),
    ],
  };
}

export function queryFrontendPod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.queryFrontend;
  const downstream = ctx.addresses.service(topology.observer.name, WORKLOAD.query, HTTP_PORT);
  const cache = stringify({ type: "IN-MEMORY", config: { max_size: "128MB", validity: "10m" } });
  const args = [
    "query-frontend",
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--query-frontend.downstream-url=http://${downstream}`,
    "--query-range.split-interval=24h",
    `--query-range.response-cache-config-file=${ctx.configDir(name, "thanos-query-frontend")}/${QFE_CACHE_FILE}`,
    "--query-frontend.log-queries-longer-than=10s",
  ];
  return {
    cluster: topology.observer.name,
    name,
    replicas: 1,
    containers: [
      thanosContainer(topology, "thanos-query-frontend", "query-frontend", args, {
        ports: httpOnly,
        files: [{ name: QFE_CACHE_FILE, content: cache }],
      }),
    ],
  };
}

export function storePod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.store;
  const store = objstore(ctx, name, "thanos-store");
  const tls = grpcServerTls(ctx, name, "thanos-store");
  const args = [
    "store",
    `--grpc-address=${listen(ctx, GRPC_PORT)}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(name, "thanos-store")}`,
    store.arg,
    `--sync-block-duration=${ctx.bucketSyncInterval}`,
    ...tls.args,
  ];
  return {
    cluster: topology.observer.name,
    name,
    replicas: 1,
    containers: [
      thanosContainer(topology, "thanos-store", "store", args, {
        files: [store.file, ...tls.files],
        dataDir: ctx.dataDir(name, "thanos-store"),
      }),
    ],
    storeLabels: () => ({}),
  };
}

/** Exactly one compactor per bucket: two would compact the same blocks. */
export function compactPod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.compact;
  const store = objstore(ctx, name, "thanos-compact");
  const { retention } = topology.fleet;
  const args = [
    "compact",
    "--wait",
    `--wait-interval=${ctx.bucketSyncInterval}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(name, "thanos-compact")}`,
    store.arg,
    `--retention.resolution-raw=${retention.raw}`,
    `--retention.resolution-5m=${retention.fiveMinutes}`,
    `--retention.resolution-1h=${retention.oneHour}`,
    "--compact.concurrency=1",
  ];
  return {
    cluster: topology.observer.name,
    name,
    replicas: 1,
    containers: [
      thanosContainer(topology, "thanos-compact", "compact", args, {
        ports: httpOnly,
        files: [store.file],
        dataDir: ctx.dataDir(name, "thanos-compact"),
      }),
    ],
  };
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
} as const;

/** How long an HA alert's condition must hold before it fires: a restart that heals at once stays quiet. */
export const HA_ALERT_FOR = "30s";

/**
 * Alerts on the global view, evaluated by the ruler through query. Each Prometheus replica scrapes its peers and
 * their sidecars, so a dead replica or sidecar is an `up == 0` its peer still reports; a cluster of which query
 * has no recent sample at all is cut off; a sidecar that has not uploaded for 2.5 block lengths is stalled.
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

export function rulerPod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.rule;
  const mgmt = topology.observer.name;
  const store = objstore(ctx, name, "thanos-ruler");
  const tls = grpcServerTls(ctx, name, "thanos-ruler");
  const labels = rulerLabels(topology, POD_NAME);
  const args = [
    "rule",
    `--grpc-address=${listen(ctx, GRPC_PORT)}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(name, "thanos-ruler")}`,
    store.arg,
    `--rule-file=${ctx.configDir(name, "thanos-ruler")}/${RULES_FILE}`,
    `--query=http://${ctx.addresses.service(mgmt, WORKLOAD.query, HTTP_PORT)}`,
    `--alertmanagers.url=http://${ctx.addresses.service(mgmt, WORKLOAD.alertmanager, 9093)}`,
    ...Object.entries(labels).map(([k, v]) => `--label=${k}="${v}"`),
    "--alert.label-drop=ruler_replica",
    "--eval-interval=15s",
    `--tsdb.block-duration=${ctx.blockDuration}`,
    ...tls.args,
  ];
  return {
    cluster: mgmt,
    name,
    replicas: topology.observer.rulerReplicas,
    containers: [
      thanosContainer(topology, "thanos-ruler", "rule", args, {
        files: [
          store.file,
          { name: RULES_FILE, content: fleetRules({ topology, blockDuration: ctx.blockDuration }) },
          ...tls.files,
        ],
        dataDir: ctx.dataDir(name, "thanos-ruler"),
      }),
    ],
    storeLabels: (pod) => rulerLabels(topology, pod),
  };
}

/** Half a duration, in whole seconds (at least one). */
function halfOf(duration: string): string {
  return `${Math.max(1, Math.floor(parseDuration(duration) / 2000))}s`;
}

export function bucketWebPod(topology: Topology, ctx: SpecContext): PodSpec {
  const name = WORKLOAD.bucketWeb;
  const store = objstore(ctx, name, "thanos-bucket-web");
  const args = [
    "tools",
    "bucket",
    "web",
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    store.arg,
    `--refresh=${ctx.bucketSyncInterval}`,
    // Thanos wants the refresh at least twice the download timeout (default 5m), which a short refresh is not.
    `--timeout=${halfOf(ctx.bucketSyncInterval)}`,
    "--label=cluster",
  ];
  return {
    cluster: topology.observer.name,
    name,
    replicas: 1,
    containers: [
      thanosContainer(topology, "thanos-bucket-web", "bucket-web", args, {
        ports: httpOnly,
        files: [store.file],
      }),
    ],
  };
}

/** The labels a workload cluster's replica serves over the StoreAPI. */
export function prometheusLabels(workload: Workload, pod: string): Record<string, string> {
  return { ...workload.labels, prometheus_replica: pod };
}
