// The fleet.yaml schema: what a user may say about their fleet, with every default in one place.
import { z } from "zod";
import { isDuration, MAX_DURATION_MS, parseDuration } from "../duration.ts";
import { PINNED } from "../versions.ts";

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The programs the local runtime runs, which `binaries:` may name. */
export const LOCAL_BINARIES = ["thanos", "prometheus", "alertmanager", "weed", "haproxy"] as const;
export type LocalBinary = (typeof LOCAL_BINARIES)[number];

export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

const dnsLabel = z
  .string()
  .max(63, "must be at most 63 characters")
  .regex(
    DNS1123_LABEL,
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  );
const nodePort = z
  .number()
  .int()
  .min(NODE_PORT_MIN, `must be a NodePort in ${NODE_PORT_MIN}-${NODE_PORT_MAX}`)
  .max(NODE_PORT_MAX, `must be a NodePort in ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
/**
 * A Prometheus duration, at most what Go holds (2^63-1 ns, about 292 years); `positive`: one a process waits, ticks or
 * keeps data for, where 0s would stop it (a ticker panics on it).
 */
const durationOf = (positive: boolean) =>
  z.string().superRefine((text, ctx) => {
    const problem = !isDuration(text)
      ? "must be a Prometheus duration such as 15s, 2h or 30d"
      : positive && parseDuration(text) === 0
        ? "must be longer than 0s"
        : parseDuration(text) > MAX_DURATION_MS
          ? "must be at most 292y, the longest duration Go holds"
          : undefined;
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
const duration = durationOf(true);
/** The bucket's retention, where Thanos reads 0 (0s, 0d) as "keep for ever". */
const retention = durationOf(false);
const semver = (what: string) =>
  z.string().regex(/^v[0-9]+\.[0-9]+\.[0-9]+$/, `must be a ${what} release tag such as v1.2.3`);

/** kube-prometheus-stack values of the user's own, deep-merged over the rendered ones (see topology/values.ts). */
const chartValues = z.record(z.string(), z.unknown()).default({});

const serviceType = z.enum(["NodePort", "LoadBalancer"]).default("NodePort");
/** An existing cluster is named by its kube context; without one, the tool creates a kind cluster. */
const context = z.string().min(1).optional();

export const ObserverCluster = z.strictObject({
  name: dnsLabel,
  role: z.literal("observer"),
  context,
  serviceType,
  queryReplicas: z.number().int().min(1).max(10).default(2),
  rulerReplicas: z.number().int().min(1).max(10).default(2),
  nodePorts: z
    .strictObject({
      queryFrontend: nodePort.default(30900),
      alertmanager: nodePort.default(30903),
      query: nodePort.default(30904),
      bucketWeb: nodePort.default(30905),
      /** The compactor's metrics, scraped by every workload cluster's Prometheus for the compactor-halted alert. */
      compactor: nodePort.default(30906),
    })
    .prefault({}),
  /**
   * Thanos Receive, run here when a workload cluster has `mode: receive`: stateless routers behind one remote-write
   * endpoint, and ingesters that each keep a TSDB and upload its blocks. Ignored while every cluster uses sidecars.
   */
  receive: z
    .strictObject({
      /** Copies of every series across the ingesters; a write succeeds once a majority of them is stored. */
      replicationFactor: z.number().int().min(1).max(9).default(3),
      routers: z
        .number()
        .int()
        .min(2, "must be at least 2, so one router down stops no write")
        .max(10)
        .default(2),
      ingesters: z
        .number()
        .int()
        .min(3, "must be at least 3, so one ingester down loses no write at replication factor 3")
        .max(20)
        .default(3),
      /** The remote-write endpoint (HTTPS, mutual TLS) the receive-mode clusters write to. */
      nodePort: nodePort.default(30907),
    })
    .prefault({}),
});

export const WorkloadCluster = z.strictObject({
  name: dnsLabel,
  role: z.literal("workload"),
  context,
  serviceType,
  /**
   * How the global view gets this cluster's metrics: `sidecar` (query dials a Thanos sidecar beside each Prometheus
   * replica) or `receive` (each replica remote-writes to the observer's Thanos Receive; nothing dials in).
   */
  mode: z.enum(["sidecar", "receive"], { error: "must be sidecar or receive" }).default("sidecar"),
  /** External labels of this cluster's Prometheus; `cluster` defaults to the cluster's name. */
  externalLabels: z
    .record(z.string().regex(LABEL_NAME, "must be a Prometheus label name"), z.string().min(1))
    .default({}),
  prometheus: z
    .strictObject({
      replicas: z.number().int().min(1).max(10).default(2),
      retention: duration.default("5d"),
      scrapeInterval: duration.default("15s"),
    })
    .prefault({}),
  nodePorts: z
    .strictObject({
      /** Sidecar gRPC of replica i is exposed on sidecarGrpc + i. */
      sidecarGrpc: nodePort.default(31000),
      /** Sidecar HTTP of replica i is exposed on sidecarHttp + i. */
      sidecarHttp: nodePort.default(31100),
      /** Prometheus web of replica i is exposed on prometheus + i. */
      prometheus: nodePort.default(30090),
      alertmanager: nodePort.default(30903),
      grafana: nodePort.default(30300),
    })
    .prefault({}),
  /** Merged over the fleet-wide kubePrometheusStackValues for this cluster only. */
  kubePrometheusStackValues: chartValues,
});

export const STORAGE_SERVERS = ["seaweedfs", "minio"] as const;
export type StorageServer = (typeof STORAGE_SERVERS)[number];

export const StorageCluster = z.strictObject({
  name: dnsLabel,
  role: z.literal("storage"),
  context,
  serviceType,
  /** The S3 server: SeaweedFS (Apache-2.0, built here, every runtime) or MinIO (its published image, Kubernetes only). */
  server: z.enum(STORAGE_SERVERS, { error: "must be seaweedfs or minio" }).default("seaweedfs"),
  nodePorts: z
    .strictObject({
      /** The S3 API. */
      api: nodePort.default(32000),
      /** MinIO's console; SeaweedFS's Prometheus metrics. */
      console: nodePort.default(32001),
    })
    .prefault({}),
});

export const Cluster = z.discriminatedUnion("role", [ObserverCluster, WorkloadCluster, StorageCluster]);

/** An S3 endpoint outside the fleet, used instead of a storage cluster. */
export const ExternalObjectStore = z.strictObject({
  endpoint: z
    .string()
    .regex(/^[^/:\s]+(:[0-9]+)?$/, "must be host:port with no scheme, as Thanos's objstore config expects"),
  insecure: z.boolean().default(false),
  region: z.string().optional(),
  /** A file holding `access_key` and `secret_key` (YAML); kept out of fleet.yaml so it can be committed. */
  credentialsFile: z.string().min(1),
});

export const Fleet = z.strictObject({
  bucket: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'",
    )
    .default("thanos"),
  profile: z.enum(["small", "medium", "large"]).default("small"),
  versions: z
    .strictObject({
      thanos: semver("Thanos").default(PINNED.thanos),
      prometheus: semver("Prometheus").default(PINNED.prometheus),
      alertmanager: semver("Alertmanager").default(PINNED.alertmanager),
      kubePrometheusStack: z
        .string()
        .regex(/^[0-9]+\.[0-9]+\.[0-9]+$/, "must be a Helm chart version such as 88.5.3 (no leading v)")
        .default(PINNED.kubePrometheusStack),
      kindNodeImage: z
        .string()
        .regex(
          /^kindest\/node:v[0-9]+\.[0-9]+\.[0-9]+(@sha256:[a-f0-9]{64})?$/,
          "must be a kindest/node image such as kindest/node:v1.36.0, optionally with @sha256:<digest>",
        )
        .default(PINNED.kindNodeImage),
      seaweedfs: z
        .string()
        .regex(/^[0-9]+\.[0-9]+$/, "must be a SeaweedFS release such as 4.53 (the image tag)")
        .default(PINNED.seaweedfs),
      minio: z
        .string()
        .regex(
          /^RELEASE\.[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}Z$/,
          `must be a MinIO release such as ${PINNED.minio}`,
        )
        // The tags sort as their dates do.
        .refine(
          (release) => release <= PINNED.minio,
          `is later than ${PINNED.minio}, the last MinIO release published as an image (later ones are source only)`,
        )
        .default(PINNED.minio),
    })
    .prefault({}),
  retention: z
    .strictObject({
      raw: retention.default("30d"),
      fiveMinutes: retention.default("90d"),
      oneHour: retention.default("1y"),
    })
    .prefault({}),
  objectStore: ExternalObjectStore.optional(),
  /**
   * TSDB block length and how often bucket readers re-list the bucket. Unset: 2h and 3m on Kubernetes (what
   * production wants), 2m and 15s on the local runtime (so blocks reach the bucket within minutes). Short blocks
   * on Kubernetes let a test or demo fleet see the sidecar → bucket → store gateway path quickly.
   */
  blocks: z
    .strictObject({
      duration: duration.optional(),
      syncInterval: duration.optional(),
    })
    .prefault({}),
  /**
   * Mutual TLS on the StoreAPI gRPC that crosses clusters (query to sidecars, store gateway, rulers); HTTPS with
   * client certificates on every HTTP server whose port leaves its cluster; HTTPS to the storage cluster's S3 API,
   * verified against the fleet CA.
   */
  tls: z
    .strictObject({
      grpc: z.boolean().default(true),
      http: z.boolean().default(true),
      s3: z.boolean().default(true),
      /**
       * Your own CA (paths to PEM files, relative to fleet.yaml): it signs the fleet's certificates instead of a CA
       * thanos-fleet makes; its key is read where it is, never copied into the state dir.
       */
      ca: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /**
       * Kubernetes only: a cert-manager Issuer signs each server workload's certificate (a `Certificate` per
       * workload) instead of the fleet CA; `ca` is the PEM certificate of the CA it signs with (relative to
       * fleet.yaml), which every client trusts beside the fleet CA.
       */
      issuer: z
        .strictObject({
          name: z.string().min(1),
          kind: z.enum(["ClusterIssuer", "Issuer"]).default("ClusterIssuer"),
          group: z.string().min(1).default("cert-manager.io"),
          ca: z.string().min(1),
        })
        .optional(),
    })
    .prefault({}),
  /** Grafana in each workload cluster; without it the Thanos datasource is still rendered for a Grafana of your own. */
  grafana: z.boolean().default(true),
  /** kube-prometheus-stack from a local chart directory or .tgz instead of its Helm repository. */
  chart: z.strictObject({ path: z.string().min(1) }).optional(),
  images: z
    .strictObject({
      /** An image archive (`thanos-fleet images save`) loaded into every kind node before anything is installed. */
      archive: z.string().min(1).optional(),
      /** A registry mirror prefix put in front of every image name, e.g. `mirror.example.com/`. */
      registry: z
        .string()
        .regex(
          /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*\/$/,
          "must be a registry host with an optional path, ending in '/', such as mirror.example.com/",
        )
        .optional(),
    })
    .prefault({}),
  /** kube-prometheus-stack values of your own for every workload cluster, merged over the rendered ones. */
  kubePrometheusStackValues: chartValues,
  /** Paths of binaries for the local runtime, used instead of the cached builds; relative to fleet.yaml's directory. */
  binaries: z
    .strictObject(Object.fromEntries(LOCAL_BINARIES.map((name) => [name, z.string().min(1).optional()])))
    .default({}),
  clusters: z.array(Cluster).min(1, "must list at least the observer and one workload cluster"),
});

export type FleetInput = z.input<typeof Fleet>;
export type FleetConfig = z.output<typeof Fleet>;
export type ClusterConfig = z.output<typeof Cluster>;
export type ObserverConfig = z.output<typeof ObserverCluster>;
export type WorkloadConfig = z.output<typeof WorkloadCluster>;
export type StorageConfig = z.output<typeof StorageCluster>;
