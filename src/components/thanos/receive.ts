// Thanos Receive on the observer, split as Thanos's router/ingester design describes: stateless routers behind the
// fleet's one remote-write endpoint (HTTPS, mutual TLS), which hash each series onto a static ketama hashring of
// ingesters and replicate it there; ingesters that each keep a TSDB, serve it over the StoreAPI and upload its blocks.
import { RECEIVE_REPLICA_LABEL, TENANT_LABEL, usesReceive } from "../../topology/semantics.ts";
import type { Topology, Workload } from "../../topology/topology.ts";
import type { Addresses, SpecContext } from "../context.ts";
import type { ComponentSpec, ConfigFile, Opening, Port, ServiceSpec, StoreApiServer } from "../types.ts";
import { POD_NAME, podName, START_STAGE } from "../types.ts";
import {
  GRPC_AND_HTTP,
  GRPC_PORT,
  grpcServerTls,
  HTTP_PORT,
  listen,
  listenArgs,
  type MgmtFacts,
  mgmtComponent,
  mgmtOpening,
  objstore,
  TLS_FILES,
} from "./common.ts";

/** Where receive takes remote writes (Thanos's default port). */
export const REMOTE_WRITE_PORT = 19291;
/**
 * Receive's Cap'n Proto replication server listens whatever the replication protocol (Thanos's default port), so
 * each process gets its own address for it.
 */
const CAPNPROTO_PORT = 19391;
export const REMOTE_WRITE_PATH = "/api/v1/receive";
/** The HTTP header a router reads the tenant from (Thanos's default, stated so the writers and routers agree). */
export const TENANT_HEADER = "THANOS-TENANT";
export const HASHRINGS_FILE = "hashrings.json";

const RECEIVE_PORTS: Port[] = [
  ...GRPC_AND_HTTP,
  { name: "remote-write", port: REMOTE_WRITE_PORT, protocol: "http" },
  { name: "capnproto", port: CAPNPROTO_PORT, protocol: "grpc" },
];

/**
 * How verify proves the routers' remote-write endpoint lets the fleet in: an empty write request (a snappy-compressed
 * WriteRequest of no series is the one byte 0), which the handler answers 200 and stores nothing from.
 */
function remoteWriteExposure(ctx: SpecContext): Port[] {
  return RECEIVE_PORTS.map((p) =>
    p.port !== REMOTE_WRITE_PORT
      ? p
      : {
          ...p,
          exposure: {
            method: "POST",
            path: REMOTE_WRITE_PATH,
            headers: {
              "content-encoding": "snappy",
              "content-type": "application/x-protobuf",
              "x-prometheus-remote-write-version": "0.1.0",
              [TENANT_HEADER]: "thanos-fleet-verify",
            },
            body: "\u0000",
            ...(ctx.grpcTls ? { serverName: ctx.grpcTls.serverName } : {}),
          },
        },
  );
}

const ROUTER: MgmtFacts = {
  name: "thanos-receive-router",
  container: "thanos-receive-router",
  component: "receive-router",
  sizing: { memory: 64, limit: 512, cpu: 50 },
  replicas: (topology) => topology.observer.receive.routers,
  stateful: false,
  // It forwards to the ingesters, which start a stage earlier.
  stage: START_STAGE.mgmtQuery,
};

const INGESTER: MgmtFacts = {
  name: "thanos-receive-ingester",
  container: "thanos-receive-ingester",
  component: "receive-ingester",
  sizing: { memory: 256, limit: 1024, cpu: 100 },
  replicas: (topology) => topology.observer.receive.ingesters,
  // Each keeps its TSDB, and its receive_replica label is its pod name: the names must be stable.
  stateful: true,
  // Ready is not yet back in the hashring. A router skips an ingester that failed it for up to 5 s after (Thanos
  // v0.42.4's hidden --receive-forward-max-backoff); on Kubernetes it also dials each ingester by its DNS name through
  // gRPC's resolver (grpc.NewClient), which resolves again at most every 30 s, so an ingester back at a new pod
  // address may stay out of reach that long. Replacing the next one inside that window leaves a series one copy short
  // of its quorum (503s while ingesters roll, thanos-io/thanos#8727). Measured on kind (ingester-rollout drill,
  // 2026-12-07): 10 s gave 22 and 24 failed writes in two runs, 40 s none; the local runtime's fixed addresses needed
  // 10 s. 40 s on both: one fact, about two minutes for a rollout of three.
  minReadySeconds: 40,
  stage: START_STAGE.mgmtBackends,
  // The routers and query dial each ingester by its own address.
  headless: true,
};

/** How long a replaced ingester stays ready before the next is replaced (both runtimes). */
export const INGESTER_MIN_READY_SECONDS = INGESTER.minReadySeconds ?? 0;

/** The workload names of the routers and the ingesters. */
export const RECEIVE_WORKLOAD = { router: ROUTER.name, ingester: INGESTER.name } as const;

/**
 * An ingester's local TSDB is bounded by size, not by time. A time retention turns on receive's tenant pruning,
 * which in v0.42.4 runs once as the process starts and dereferences the TSDB the ingester is still opening (nil):
 * the ingester panics whenever it starts in a minute that is a multiple of twice its block length (every other
 * minute with the local runtime's 1m blocks; thanos-io/thanos#8990, merged after v0.42.4, skips such tenants). A
 * retention of 0 turns pruning off; the blocks are in the bucket within a minute of being cut, and the size bound
 * (80 % of the 10Gi claim) deletes the oldest local ones. What pruning did besides, flushing a tenant that stopped
 * writing, is lost until the pin moves past the fix: such a tenant's last head is uploaded when it writes again.
 */
const INGESTER_RETENTION = { time: "0d", bytes: "8GB" } as const;

const CLIENT_FILES = { cert: "remote-write-client.crt", key: "remote-write-client.key" } as const;

/** Pod names of the ingesters, in hashring order. */
export function ingesterPodNames(topology: Topology): string[] {
  return Array.from({ length: topology.observer.receive.ingesters }, (_, i) => podName(INGESTER.name, i));
}

export function routerPodNames(topology: Topology): string[] {
  return Array.from({ length: topology.observer.receive.routers }, (_, i) => podName(ROUTER.name, i));
}

/** The workload clusters that remote-write to receive. */
export function receiveWorkloads(topology: Topology): Workload[] {
  return topology.workloads.filter((w) => w.mode === "receive");
}

/**
 * The hashring file: one ketama hashring of every ingester's gRPC address, for every tenant. Static: the topology
 * fixes the ingesters, so no controller rewrites it.
 */
export function hashringsConfig(topology: Topology, addresses: Addresses): string {
  const mgmt = topology.observer.name;
  const endpoints = ingesterPodNames(topology).map((_, i) =>
    addresses.pod(mgmt, INGESTER.name, i, GRPC_PORT),
  );
  return `${JSON.stringify([{ hashring: "default", algorithm: "ketama", endpoints }], null, 2)}\n`;
}

/**
 * The remote-write HTTP server's TLS: the fleet's server certificate, and only clients with a certificate from the
 * fleet CA (mutual TLS), as on the StoreAPI.
 */
function remoteWriteServerTls(ctx: SpecContext, workload: string, container: string): string[] {
  if (!ctx.grpcTls) return [];
  const dir = ctx.configDir(workload, container);
  return [
    `--remote-write.server-tls-cert=${dir}/${TLS_FILES.cert}`,
    `--remote-write.server-tls-key=${dir}/${TLS_FILES.key}`,
    `--remote-write.server-tls-client-ca=${dir}/${TLS_FILES.ca}`,
  ];
}

/** Where every receive process listens: gRPC, HTTP, remote write and Cap'n Proto, each on the pod's own address. */
function receiveListenArgs(ctx: SpecContext): string[] {
  return [
    ...listenArgs(ctx),
    `--remote-write.address=${listen(ctx, REMOTE_WRITE_PORT)}`,
    `--receive.capnproto-address=${listen(ctx, CAPNPROTO_PORT)}`,
  ];
}

/** The routers: no TSDB; each write is hashed onto the ingesters and succeeds once a quorum of copies is stored. */
function routers(topology: Topology, ctx: SpecContext): ComponentSpec {
  const name = ROUTER.name;
  const dir = ctx.configDir(name, ROUTER.container);
  const tls = grpcServerTls(ctx, name, ROUTER.container);
  const { replicationFactor } = topology.observer.receive;
  const clientTls = ctx.grpcTls
    ? {
        args: [
          "--remote-write.client-tls-secure",
          `--remote-write.client-tls-ca=${dir}/${TLS_FILES.ca}`,
          `--remote-write.client-tls-cert=${dir}/${CLIENT_FILES.cert}`,
          `--remote-write.client-tls-key=${dir}/${CLIENT_FILES.key}`,
          ...(ctx.grpcTls.serverName ? [`--remote-write.client-server-name=${ctx.grpcTls.serverName}`] : []),
        ],
        files: [
          { name: CLIENT_FILES.cert, content: ctx.grpcTls.clientCert },
          { name: CLIENT_FILES.key, content: ctx.grpcTls.clientKey, secret: true },
        ] as ConfigFile[],
      }
    : { args: [], files: [] };
  const args = [
    "receive",
    ...receiveListenArgs(ctx),
    // A hashring and no local endpoint: router only (Thanos's determineMode), it stores nothing.
    `--receive.hashrings-file=${dir}/${HASHRINGS_FILE}`,
    "--receive.hashrings-algorithm=ketama",
    `--receive.replication-factor=${replicationFactor}`,
    // Receive refuses to start without an external label, though a router stores nothing it would go on.
    `--label=receive_router="${POD_NAME}"`,
    `--receive.tenant-header=${TENANT_HEADER}`,
    `--receive.tenant-label-name=${TENANT_LABEL}`,
    ...remoteWriteServerTls(ctx, name, ROUTER.container),
    ...tls.args,
    ...clientTls.args,
  ];
  const spec = mgmtComponent(topology, ctx, ROUTER, {
    args,
    container: {
      ports: remoteWriteExposure(ctx),
      files: [
        { name: HASHRINGS_FILE, content: hashringsConfig(topology, ctx.addresses) },
        ...tls.files,
        ...clientTls.files,
      ],
    },
    ports: { http: {} },
  });
  const service: ServiceSpec = {
    cluster: topology.observer.name,
    name,
    selector: { workload: name },
    ports: [
      {
        name: "remote-write",
        port: REMOTE_WRITE_PORT,
        targetPort: REMOTE_WRITE_PORT,
        nodePort: topology.observer.receive.nodePort,
      },
      { name: "http", port: HTTP_PORT, targetPort: HTTP_PORT },
    ],
  };
  return { pods: spec.pods, services: [service] };
}

export function ingesterLabels(pod: string): Record<string, string> {
  return { [RECEIVE_REPLICA_LABEL]: pod };
}

/** The ingesters: no hashring, so each only stores what the routers send it (Thanos's IngestorOnly mode). */
function ingesters(topology: Topology, ctx: SpecContext): ComponentSpec {
  const name = INGESTER.name;
  const store = objstore(ctx, name, INGESTER.container);
  const tls = grpcServerTls(ctx, name, INGESTER.container);
  const dataDir = ctx.dataDir(name, INGESTER.container);
  const args = [
    "receive",
    ...receiveListenArgs(ctx),
    `--tsdb.path=${dataDir}`,
    `--tsdb.retention=${INGESTER_RETENTION.time}`,
    `--tsdb.max-retention-bytes=${INGESTER_RETENTION.bytes}`,
    // Blocks as long as Prometheus's (hidden flags, 2h by default), so they reach the bucket as soon.
    `--tsdb.min-block-duration=${ctx.blockDuration}`,
    `--tsdb.max-block-duration=${ctx.blockDuration}`,
    ...Object.entries(ingesterLabels(POD_NAME)).map(([k, v]) => `--label=${k}="${v}"`),
    `--receive.tenant-header=${TENANT_HEADER}`,
    `--receive.tenant-label-name=${TENANT_LABEL}`,
    store.arg,
    ...remoteWriteServerTls(ctx, name, INGESTER.container),
    ...tls.args,
  ];
  return mgmtComponent(topology, ctx, INGESTER, {
    args,
    container: { ports: RECEIVE_PORTS, files: [...store.files, ...tls.files], dataDir, persistent: true },
    ports: { grpc: {}, http: {} },
    storeLabels: (pod) => ingesterLabels(pod),
  });
}

/** Receive on the observer when any workload cluster uses it; nothing otherwise. */
export function receive(topology: Topology, ctx: SpecContext): ComponentSpec {
  if (!usesReceive(topology.fleet)) return { pods: [], services: [] };
  const parts = [ingesters(topology, ctx), routers(topology, ctx)];
  return { pods: parts.flatMap((p) => p.pods), services: parts.flatMap((p) => p.services) };
}

/** Each ingester, dialled by its pod address. */
export function ingesterStoreApis(topology: Topology): StoreApiServer[] {
  if (!usesReceive(topology.fleet)) return [];
  const mgmt = topology.observer.name;
  return ingesterPodNames(topology).map(
    (pod, i): StoreApiServer => ({
      type: "receive",
      component: "receive-ingester",
      cluster: mgmt,
      pod,
      labels: ingesterLabels(pod),
      container: INGESTER.container,
      title: "receive ingester",
      unreachable: "the ingester is down or its pod address is unreachable from query",
      address: (addresses) => addresses.pod(mgmt, INGESTER.name, i, GRPC_PORT),
    }),
  );
}

/** The URL a receive-mode cluster's Prometheus writes to: the routers' NodePort, over HTTPS. */
export function remoteWriteUrl(topology: Topology, addresses: Addresses): string {
  const mgmt = topology.observer;
  return `https://${addresses.exposed(mgmt.name, mgmt.receive.nodePort)}${REMOTE_WRITE_PATH}`;
}

/** The remote-write endpoint, for `status`'s list of what is exposed. */
export function receiveOpenings(topology: Topology): Opening[] {
  if (!usesReceive(topology.fleet)) return [];
  const opening = mgmtOpening(
    topology,
    "receive",
    "remote write (mutual TLS)",
    topology.observer.receive.nodePort,
  );
  // An API for Prometheus to write to, not a page.
  return [{ ...opening, ui: false, url: { scheme: "https", path: REMOTE_WRITE_PATH } }];
}

/**
 * Prometheus's defaults, bounded for a fleet of small clusters: 10,000 samples buffered per shard, 2,000-sample
 * requests, at most 4 shards; an outage beyond the buffers is held by the WAL and resent after it. Why 4: Prometheus
 * adds shards while it is behind, which is when the observer is busiest. On kind (two cores under eight nodes) with
 * 10, an ingester rollout left both replicas of the receive cluster at full shards, every request fanned out three
 * times by the routers, the routers' forwards timing out (`context deadline exceeded`, 5xx) and each retry sending
 * again what had been stored: the cores stayed saturated for the ten minutes watched.
 */
export const REMOTE_WRITE_QUEUE = {
  capacity: 10_000,
  min_shards: 1,
  max_shards: 4,
  max_samples_per_send: 2_000,
  batch_send_deadline: "5s",
  min_backoff: "100ms",
  max_backoff: "10s",
} as const;

/** The files and remote_write entry a receive-mode Prometheus gets: its tenant header and client certificate. */
export function remoteWrite(
  topology: Topology,
  workload: Workload,
  ctx: SpecContext,
  configDir: string,
): { config: Record<string, unknown>; files: ConfigFile[] } {
  const tls = ctx.grpcTls;
  return {
    config: {
      url: remoteWriteUrl(topology, ctx.addresses),
      headers: { [TENANT_HEADER]: workload.name },
      ...(tls
        ? {
            tls_config: {
              ca_file: `${configDir}/${TLS_FILES.ca}`,
              cert_file: `${configDir}/${CLIENT_FILES.cert}`,
              key_file: `${configDir}/${CLIENT_FILES.key}`,
              ...(tls.serverName ? { server_name: tls.serverName } : {}),
            },
          }
        : {}),
      queue_config: REMOTE_WRITE_QUEUE,
    },
    files: tls
      ? [
          { name: TLS_FILES.ca, content: tls.ca },
          { name: CLIENT_FILES.cert, content: tls.clientCert },
          { name: CLIENT_FILES.key, content: tls.clientKey, secret: true },
        ]
      : [],
  };
}

/**
 * On Kubernetes, the Secret with a receive-mode Prometheus's remote-write TLS files (the fleet CA and the fleet's
 * client certificate, nothing else): the Prometheus Operator mounts it into each replica (`prometheusSpec.secrets`).
 */
export const REMOTE_WRITE_SECRET = "thanos-remote-write-tls";

/** `max_samples_per_send` → `maxSamplesPerSend`: the operator's RemoteWriteSpec names Prometheus's fields so. */
function camelKeys(value: unknown, path: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v, path));
  if (value === null || typeof value !== "object") return value;
  // Header names are the HTTP headers themselves.
  if (path.at(-1) === "headers") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      camelKeys(v, [...path, k]),
    ]),
  );
}

/**
 * A receive-mode Prometheus run by the Prometheus Operator: the same remote_write entry as the local runtime's, as the
 * operator's RemoteWriteSpec (`prometheusSpec.remoteWrite`), its files read from REMOTE_WRITE_SECRET where the operator
 * mounts it (`secretsDir`), and that Secret's data.
 */
export function operatorRemoteWrite(
  topology: Topology,
  workload: Workload,
  ctx: SpecContext,
  secretsDir: string,
): { spec: Record<string, unknown>; secret: { name: string; data: Record<string, string> } } {
  const { config, files } = remoteWrite(topology, workload, ctx, `${secretsDir}/${REMOTE_WRITE_SECRET}`);
  return {
    spec: camelKeys(config) as Record<string, unknown>,
    secret: { name: REMOTE_WRITE_SECRET, data: Object.fromEntries(files.map((f) => [f.name, f.content])) },
  };
}
