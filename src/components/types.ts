// What one process of the fleet is, independent of where it runs: args, files, ports, probes, resources, start stage,
// the StoreAPI it serves and the ports a person opens. Each component module fills these in; nothing else decides them.
import type { Addresses } from "./context.ts";
import type { Resources } from "./resources.ts";

export type ComponentKind =
  | "sidecar"
  | "query"
  | "query-frontend"
  | "store"
  | "compact"
  | "rule"
  | "bucket-web"
  | "receive-router"
  | "receive-ingester"
  | "prometheus"
  | "alertmanager"
  | "object-store"
  | "storage-metrics"
  | "demo";

/** Each component as a sentence names it (step titles): the one list of them outside their modules' own titles. */
export const COMPONENT_TITLES: Readonly<Record<ComponentKind, string>> = {
  sidecar: "Thanos sidecar",
  query: "query",
  "query-frontend": "query-frontend",
  store: "store gateway",
  compact: "compactor",
  rule: "ruler",
  "bucket-web": "bucket web",
  "receive-router": "receive router",
  "receive-ingester": "receive ingester",
  prometheus: "Prometheus",
  alertmanager: "Alertmanager",
  "object-store": "S3 server",
  "storage-metrics": "storage metrics",
  demo: "demo workload",
};

/** The title of a pod: that of its first container's component (a Prometheus pod's sidecar is beside it). */
export function podTitle(pod: PodSpec): string {
  const first = pod.containers[0];
  if (!first) throw new Error(`${pod.cluster}/${pod.name} has no container`);
  return COMPONENT_TITLES[first.component];
}

export type Binary = "thanos" | "prometheus" | "alertmanager" | "weed" | "minio" | "node";

/** Kubernetes-style placeholder for the pod's own name; Kubernetes expands it, the local runtime substitutes it. */
export const POD_NAME = "$(POD_NAME)";

export interface Port {
  name: string;
  port: number;
  protocol: "http" | "grpc";
  /** An HTTP port outside the web config, with a TLS of its own: how `verify` proves it lets only the fleet in. */
  exposure?: ExposureRequest;
}

/**
 * The request that proves a port's own TLS lets the fleet's client certificate through to its handler (a 2xx), where
 * an anonymous or plaintext one is refused: it must change nothing.
 */
export interface ExposureRequest {
  method: "POST";
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The name the port's certificate is issued for; absent when it serves plaintext. */
  serverName?: string;
}

export interface ConfigFile {
  /** File name inside the process's config directory. */
  name: string;
  content: string;
  /** Holds credentials: a Kubernetes Secret rather than a ConfigMap, mode 0600 on disk. */
  secret?: boolean;
  /**
   * The server's own certificate or key (Kubernetes: in the workload's Secret of its own, renewed in place, no part
   * of the config hash, so a renewal restarts nothing). With a cert-manager Issuer, which of the two cert-manager's
   * Secret holds it as (`tls.crt`, `tls.key`).
   */
  ownCert?: "cert" | "key";
}

export interface Container {
  /** Container name inside the pod, e.g. `thanos-sidecar`. */
  name: string;
  component: ComponentKind;
  binary: Binary;
  image: string;
  args: string[];
  env?: Record<string, string>;
  /** Environment variables whose values are credentials (Kubernetes: from a Secret). */
  secretEnv?: Record<string, string>;
  files: ConfigFile[];
  ports: Port[];
  /** HTTP GET on this port and path answers 200 (or, without a path, the port accepts) when the process is ready. */
  readiness: Probe;
  /** Likewise while the process is alive (Kubernetes restarts it otherwise). */
  liveness: Probe;
  /** Requests and limits for the fleet's resource profile. */
  resources: Resources;
  /**
   * The uid its image runs as, when not nobody (65534); such an image gets HOME=/tmp on Kubernetes, where the root
   * filesystem is read-only.
   */
  runAsUser?: number;
  /** Where the container keeps data, if it keeps any. */
  dataDir?: string;
  /** Its data must outlive the pod: a PersistentVolumeClaim on Kubernetes (else an emptyDir). */
  persistent?: boolean;
}

/**
 * A set of identical pods (Deployment or StatefulSet). Args may contain POD_NAME,
 * so each replica gets its own name with one template.
 */
export interface PodSpec {
  cluster: string;
  /** Workload name; replica i is named podName(name, i). */
  name: string;
  replicas: number;
  /** Keeps data or needs stable replica names: a StatefulSet on Kubernetes, else a Deployment (random pod names). */
  stateful: boolean;
  /**
   * How long a replaced replica stays ready before the next is replaced (a StatefulSet's `minReadySeconds`; the
   * local runtime's rollout waits as long).
   */
  minReadySeconds?: number;
  /** Start stage (START_STAGE): a pod starts once the stages its stage waits for (START_AFTER) are ready. */
  stage: number;
  containers: Container[];
  /** The StoreAPI external labels of replica `pod`, for the containers that serve one. */
  storeLabels?: (pod: string) => Record<string, string>;
  /** Made by a Helm chart in the Kubernetes runtime, not by thanos-fleet's own manifests. */
  chart?: "kube-prometheus-stack";
}

export interface Probe {
  /** A port name of the container. */
  port: string;
  /** HTTP GET on this path answers 200; absent: the port accepts a TCP connection (Kubernetes `tcpSocket`). */
  path?: string;
  /** HTTPS, answered only to a client with the fleet's client certificate (`tls.http` on a port that leaves the cluster). */
  tls?: boolean;
  /** The port serves HTTPS to any client (the check does not verify the certificate, as a kubelet's does not). */
  https?: boolean;
}

/** Start order of the fleet: the bucket, the workload clusters, then mgmt in dependency order. */
export const START_STAGE = {
  storage: 1,
  workload: 2,
  /** Store gateway and mgmt's Alertmanager: what query and the ruler dial. */
  mgmtBackends: 3,
  /** Query, ruler, compactor, bucket web. */
  mgmtQuery: 4,
  /** Query-frontend, in front of query. */
  mgmtFrontend: 5,
} as const;

/**
 * The stages each stage waits for (the runtime's own first, such as load balancers, aside): a stage whose processes
 * cannot start well without another's is started once that one is ready; stages that do not wait for each other
 * start at the same time. The storage stage includes its buckets.
 */
export const START_AFTER: Readonly<Record<number, readonly number[]>> = {
  [START_STAGE.storage]: [],
  // Prometheus and its sidecar need nothing else: the sidecar retries its uploads until the bucket answers.
  [START_STAGE.workload]: [],
  // The store gateway's first bucket sync must find the bucket, or it retries only after 10 s.
  [START_STAGE.mgmtBackends]: [START_STAGE.storage],
  // Query dials the store gateway, the ruler Alertmanager; the compactor and bucket web read the bucket.
  [START_STAGE.mgmtQuery]: [START_STAGE.mgmtBackends],
  // Query-frontend checks query once at start, then only every 10 s.
  [START_STAGE.mgmtFrontend]: [START_STAGE.mgmtQuery],
};

export interface ServicePort {
  name: string;
  port: number;
  targetPort: number;
  /** Exposed on every node of the cluster, reachable from the other clusters. */
  nodePort?: number;
}

/** A Kubernetes Service: the local runtime realises it with a load balancer. */
export interface ServiceSpec {
  cluster: string;
  name: string;
  /** The pods behind it: a workload name, or one replica's pod name. */
  selector: { workload: string; pod?: string };
  ports: ServicePort[];
  /** Headless: one DNS name per pod, no load balancing. */
  headless?: boolean;
  chart?: "kube-prometheus-stack";
}

/** What one component module adds to the fleet: its pods and the Services in front of them. */
export interface ComponentSpec {
  pods: PodSpec[];
  services: ServiceSpec[];
}

/** A StoreAPI server query fans out to, and verify expects in query's store list. */
export interface StoreApiServer {
  /** The type query lists it under in /api/v1/stores. */
  type: "sidecar" | "store" | "rule" | "receive";
  component: ComponentKind;
  cluster: string;
  pod: string;
  /** Its external labels; the store gateway's follow its blocks, so none are expected. */
  labels?: Record<string, string>;
  /** The container that serves it. */
  container: string;
  /** What it is, in words: `sidecar`, `store gateway`, `ruler`. */
  title: string;
  /** Why query would not list it. */
  unreachable: string;
  /** The gRPC address query dials. */
  address(addresses: Addresses): string;
}

export type RuntimeName = "kubernetes" | "local";

/** A port a person opens in a browser (or an S3 client): a NodePort, reached from the host. */
export interface Opening {
  cluster: string;
  /** Its name, also the name of its kind host port, e.g. `query-frontend`, `prometheus-0`, `minio-api`. */
  name: string;
  /** What it is, in words, e.g. `query UI`, `SeaweedFS metrics`. */
  title: string;
  nodePort: number;
  /** How it is reached when not plain HTTP at `/`: e.g. receive's remote write, HTTPS at /api/v1/receive. */
  url?: { scheme: "https"; path: string };
  /** The runtimes that run it behind this NodePort. */
  runtimes: readonly RuntimeName[];
  /**
   * A page a person opens in a browser, listed by `up` on Kubernetes at its end; not an API (S3, remote write), nor
   * each replica of a workload (Prometheus).
   */
  ui: boolean;
  /** It serves HTTPS (the storage cluster's S3 API, certificate from the fleet CA). */
  https?: boolean;
  /**
   * Not running (Grafana with `grafana: false`), but kind keeps its host port: a kind cluster's port mappings are
   * fixed when it is created.
   */
  reserved?: boolean;
}

/**
 * The name of replica `index` of a workload: a StatefulSet's pod on Kubernetes, the local runtime's pod. The one place
 * this rule is written; a Deployment's pods get random names on Kubernetes instead (the kube runtime resolves them).
 */
export function podName(workload: string, index: number): string {
  return `${workload}-${index}`;
}

export function podNames(pod: PodSpec): string[] {
  return Array.from({ length: pod.replicas }, (_, i) => podName(pod.name, i));
}
