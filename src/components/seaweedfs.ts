// SeaweedFS, the storage cluster's default S3 endpoint: one `weed server` process (master, volume server, filer and
// S3 gateway), its identities in a config file: an admin for thanos-fleet, and Thanos's own, allowed only its bucket.
// Only the S3 API answers anonymous strangers, and it asks for a key: the filer and volume server refuse requests
// without a JWT signed with the fleet's keys, and (with the fleet CA) the master's HTTP and every gRPC port ask for
// SeaweedFS's own client certificate.
import { createHmac } from "node:crypto";
import type { Topology } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import { POD_IP, type SpecContext } from "./context.ts";
import { resourcesFor, type Sizing } from "./resources.ts";
import { objectStore, SEAWEEDFS_METRICS_JOB } from "./storage.ts";
import type { ComponentSpec, Container, Port } from "./types.ts";
import { webServer } from "./web.ts";

export const SEAWEEDFS_WORKLOAD = "seaweedfs";
export const SEAWEEDFS_S3_PORT = 8333;
export const SEAWEEDFS_METRICS_PORT = 9327;
/** The Prometheus that serves SeaweedFS's metrics over HTTPS (with `tls.http`). */
export const SEAWEEDFS_METRICS_FRONT_PORT = 9328;
const METRICS_FRONT_SIZING: Sizing = { memory: 64, limit: 256, cpu: 20 };
export const SEAWEEDFS_MASTER_PORT = 9333;
const VOLUME_PORT = 8080;
const FILER_PORT = 8888;
export const S3_CONFIG_FILE = "s3.json";

/** The files of the storage cluster's TLS material in SeaweedFS's config dir. */
export const SEAWEEDFS_TLS_FILES = {
  ca: "ca.crt",
  s3Cert: "s3-server.crt",
  s3Key: "s3-server.key",
  cert: "seaweedfs.crt",
  key: "seaweedfs.key",
} as const;

/**
 * SeaweedFS's JWT signing keys (`security.toml`'s jwt.signing, jwt.filer_signing and their read keys, given as
 * WEED_ variables): the volume server and filer refuse any read or write without a token signed with them. Derived
 * from the admin secret, so they change with it and are kept nowhere else.
 */
export function seaweedfsJwtEnv(admin: S3Identity): Record<string, string> {
  const key = (use: string) => createHmac("sha256", admin.secretKey).update(`seaweedfs ${use}`).digest("hex");
  return {
    WEED_JWT_SIGNING_KEY: key("jwt.signing"),
    WEED_JWT_SIGNING_READ_KEY: key("jwt.signing.read"),
    WEED_JWT_FILER_SIGNING_KEY: key("jwt.filer_signing"),
    WEED_JWT_FILER_SIGNING_READ_KEY: key("jwt.filer_signing.read"),
  };
}

/**
 * How often weed re-reads its certificate files (SeaweedFS 4.53's pemfile providers, default 5 hours): a renewal on the
 * same key (`certs rotate`, `up` within 30 days of expiry) is written in place and presented within this, no restart.
 */
export const SEAWEEDFS_CERT_REFRESH = "10s";

/**
 * Where weed presents each of the storage cluster's certificates: `s3-server` on the S3 port, `seaweedfs` (its own,
 * for its servers among themselves) on the master's HTTPS port, which asks for a client certificate of the fleet CA.
 */
export const STORAGE_CERT_PORTS: Readonly<Record<string, string>> = {
  "s3-server": "api",
  seaweedfs: "master",
};

/**
 * SeaweedFS's mutual TLS (security.toml's grpc and https.master, as WEED_ variables naming files in `dir`): every gRPC
 * port (master, volume server, filer, S3 gateway) and the master's HTTP accept only SeaweedFS's own certificate, and
 * weed presents it as a client. `weed shell` needs the same variables.
 */
export function seaweedfsTlsEnv(dir: string): Record<string, string> {
  const cert = `${dir}/${SEAWEEDFS_TLS_FILES.cert}`;
  const key = `${dir}/${SEAWEEDFS_TLS_FILES.key}`;
  const env: Record<string, string> = { WEED_GRPC_CA: `${dir}/${SEAWEEDFS_TLS_FILES.ca}` };
  for (const side of ["MASTER", "VOLUME", "FILER", "S3", "CLIENT"]) {
    env[`WEED_GRPC_${side}_CERT`] = cert;
    env[`WEED_GRPC_${side}_KEY`] = key;
  }
  return {
    ...env,
    WEED_HTTPS_MASTER_CERT: cert,
    WEED_HTTPS_MASTER_KEY: key,
    WEED_HTTPS_MASTER_CA: `${dir}/${SEAWEEDFS_TLS_FILES.ca}`,
    WEED_TLS_CERT_REFRESH_INTERVAL: SEAWEEDFS_CERT_REFRESH,
  };
}

/** The identities' actions: Thanos reads, writes, lists and tags objects of its bucket, nothing else. */
export function thanosActions(bucket: string): string[] {
  return ["Read", "Write", "List", "Tagging"].map((a) => `${a}:${bucket}`);
}

export interface S3Identity {
  accessKey: string;
  secretKey: string;
}

/** SeaweedFS's S3 identities file (`-s3.config`): the admin and Thanos's bucket-scoped identity. */
export function s3Config(bucket: string, admin: S3Identity, thanos: S3Identity): string {
  const identity = (name: string, key: S3Identity, actions: string[]) => ({
    name,
    credentials: [{ accessKey: key.accessKey, secretKey: key.secretKey }],
    actions,
  });
  return `${JSON.stringify(
    {
      identities: [
        identity("thanos-fleet-admin", admin, ["Admin"]),
        identity("thanos", thanos, thanosActions(bucket)),
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * The gRPC ports of master, volume server, filer and S3 gateway. weed names a Unix socket in /tmp after each
 * (`/tmp/seaweedfs-master-grpc-19333.sock`), so two fleets on one machine need ports of their own: the local
 * runtime passes a base per fleet; in a pod /tmp is the pod's own, and the defaults (HTTP port + 10000) hold.
 */
export function seaweedfsGrpcPorts(base?: number): {
  master: number;
  volume: number;
  filer: number;
  s3: number;
} {
  if (base === undefined) {
    return {
      master: SEAWEEDFS_MASTER_PORT + 10000,
      volume: VOLUME_PORT + 10000,
      filer: FILER_PORT + 10000,
      s3: SEAWEEDFS_S3_PORT + 10000,
    };
  }
  return { master: base, volume: base + 1, filer: base + 2, s3: base + 3 };
}

export function seaweedfs(
  topology: Topology,
  ctx: SpecContext,
  admin: S3Identity,
  thanos: S3Identity,
): ComponentSpec {
  const data = ctx.dataDir(SEAWEEDFS_WORKLOAD, "seaweedfs");
  const config = ctx.configDir(SEAWEEDFS_WORKLOAD, "seaweedfs");
  const grpc = seaweedfsGrpcPorts(ctx.seaweedfsGrpcBase);
  const tls = ctx.s3Tls;
  const front = ctx.httpTls ? metricsFront(topology, ctx) : undefined;
  const ports: Port[] = [
    { name: "api", port: SEAWEEDFS_S3_PORT, protocol: "http" },
    { name: front ? "weed-metrics" : "metrics", port: SEAWEEDFS_METRICS_PORT, protocol: "http" },
    { name: "master", port: SEAWEEDFS_MASTER_PORT, protocol: "http" },
    { name: "volume", port: VOLUME_PORT, protocol: "http" },
    { name: "filer", port: FILER_PORT, protocol: "http" },
    { name: "master-grpc", port: grpc.master, protocol: "grpc" },
    { name: "volume-grpc", port: grpc.volume, protocol: "grpc" },
    { name: "filer-grpc", port: grpc.filer, protocol: "grpc" },
    { name: "s3-grpc", port: grpc.s3, protocol: "grpc" },
  ];
  return objectStore(
    topology,
    SEAWEEDFS_WORKLOAD,
    {
      name: "seaweedfs",
      binary: "weed",
      image: `chrislusf/seaweedfs:${topology.fleet.versions.seaweedfs}`,
      args: [
        // Global flag first: the image's entrypoint then runs weed with these arguments unchanged.
        "-logtostderr=true",
        "server",
        `-dir=${data}`,
        "-ip=$(POD_IP)",
        `-ip.bind=${ctx.listenHost}`,
        "-master.peers=none",
        `-master.port=${SEAWEEDFS_MASTER_PORT}`,
        `-master.port.grpc=${grpc.master}`,
        "-master.volumeSizeLimitMB=1024",
        // SeaweedFS reports usage to telemetry.seaweedfs.com unless told not to.
        "-master.telemetry=false",
        `-volume.port=${VOLUME_PORT}`,
        `-volume.port.grpc=${grpc.volume}`,
        "-volume.max=0",
        "-volume.preStopSeconds=1",
        "-filer",
        `-filer.port=${FILER_PORT}`,
        `-filer.port.grpc=${grpc.filer}`,
        `-filer.localSocket=${data}/filer.sock`,
        "-s3",
        `-s3.port=${SEAWEEDFS_S3_PORT}`,
        `-s3.port.grpc=${grpc.s3}`,
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        `-s3.localSocket=${data}/s3.sock`,
        `-s3.config=${config}/${S3_CONFIG_FILE}`,
        ...(tls
          ? [
              `-s3.cert.file=${config}/${SEAWEEDFS_TLS_FILES.s3Cert}`,
              `-s3.key.file=${config}/${SEAWEEDFS_TLS_FILES.s3Key}`,
            ]
          : []),
        `-metricsPort=${SEAWEEDFS_METRICS_PORT}`,
        // weed serves its metrics in plain HTTP only: with a front, they stay inside the pod.
        ...(front ? [`-metricsIp=${front.metricsHost}`] : []),
      ],
      ...(tls ? { env: seaweedfsTlsEnv(config) } : {}),
      secretEnv: seaweedfsJwtEnv(admin),
      files: [
        {
          name: S3_CONFIG_FILE,
          content: s3Config(topology.fleet.bucket, admin, thanos),
          secret: true,
        },
        ...(tls
          ? [
              { name: SEAWEEDFS_TLS_FILES.ca, content: tls.ca },
              { name: SEAWEEDFS_TLS_FILES.s3Cert, content: tls.cert },
              { name: SEAWEEDFS_TLS_FILES.s3Key, content: tls.key, secret: true },
              { name: SEAWEEDFS_TLS_FILES.cert, content: tls.internalCert },
              { name: SEAWEEDFS_TLS_FILES.key, content: tls.internalKey, secret: true },
            ]
          : []),
      ],
      ports,
      readiness: { port: "api", path: "/healthz", ...(tls ? { https: true } : {}) },
      liveness: { port: "api", path: "/healthz", ...(tls ? { https: true } : {}) },
      dataDir: data,
    },
    {
      api: SEAWEEDFS_S3_PORT,
      console: front
        ? { name: "metrics", port: SEAWEEDFS_METRICS_FRONT_PORT }
        : { name: "metrics", port: SEAWEEDFS_METRICS_PORT },
      internal: [
        // In the cluster only: `weed shell` (the bucket setup Job) dials the master's gRPC.
        { name: "master", port: SEAWEEDFS_MASTER_PORT, targetPort: SEAWEEDFS_MASTER_PORT },
        { name: "master-grpc", port: grpc.master, targetPort: grpc.master },
      ],
    },
    front ? [front.container] : [],
  );
}

/**
 * With `tls.http`, SeaweedFS's metrics leave the storage cluster only through a small Prometheus in its pod: weed
 * serves them in plain HTTP, without authentication, so it serves them on the pod's loopback (locally, the pod's own
 * address); this Prometheus scrapes them and serves `/federate` with HTTPS to the fleet's client certificate alone,
 * like every other HTTP port that leaves its cluster. It keeps an hour: the workload clusters' Prometheus keep the rest.
 */
function metricsFront(topology: Topology, ctx: SpecContext): { container: Container; metricsHost: string } {
  const name = "metrics-front";
  const dir = ctx.configDir(SEAWEEDFS_WORKLOAD, name);
  // A pod's containers share its network: the loopback in a pod; locally the pod's address is its own.
  const metricsHost = ctx.listenHost === "0.0.0.0" ? "127.0.0.1" : POD_IP;
  const config = {
    global: { scrape_interval: "15s" },
    scrape_configs: [
      {
        job_name: SEAWEEDFS_METRICS_JOB,
        static_configs: [
          { targets: [`${metricsHost}:${SEAWEEDFS_METRICS_PORT}`], labels: { instance: SEAWEEDFS_WORKLOAD } },
        ],
      },
    ],
  };
  const web = webServer(ctx, dir, "--web.config.file");
  return {
    metricsHost,
    container: {
      name,
      component: "storage-metrics",
      binary: "prometheus",
      image: `quay.io/prometheus/prometheus:${topology.fleet.versions.prometheus}`,
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${ctx.dataDir(SEAWEEDFS_WORKLOAD, name)}`,
        "--storage.tsdb.retention.time=1h",
        `--web.listen-address=${ctx.listenHost}:${SEAWEEDFS_METRICS_FRONT_PORT}`,
        ...web.args,
      ],
      files: [{ name: "prometheus.yml", content: stringify(config) }, ...web.files],
      ports: [{ name: "metrics", port: SEAWEEDFS_METRICS_FRONT_PORT, protocol: "http" }],
      readiness: { port: "metrics", path: "/-/ready", tls: true },
      liveness: { port: "metrics", path: "/-/healthy", tls: true },
      resources: resourcesFor(METRICS_FRONT_SIZING, topology.fleet.profile),
      dataDir: ctx.dataDir(SEAWEEDFS_WORKLOAD, name),
    },
  };
}
