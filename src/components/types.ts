// What one process of the fleet is, independent of where it runs: args, files, ports, readiness.

export type ComponentKind =
  | "sidecar"
  | "query"
  | "query-frontend"
  | "store"
  | "compact"
  | "rule"
  | "bucket-web"
  | "prometheus"
  | "alertmanager"
  | "object-store"
  | "demo";

export type Binary = "thanos" | "prometheus" | "alertmanager" | "weed" | "minio" | "node";

/** Kubernetes-style placeholder for the pod's own name; Kubernetes expands it, the local runtime substitutes it. */
export const POD_NAME = "$(POD_NAME)";

export interface Port {
  name: string;
  port: number;
  protocol: "http" | "grpc";
}

export interface ConfigFile {
  /** File name inside the process's config directory. */
  name: string;
  content: string;
  /** Holds credentials: a Kubernetes Secret rather than a ConfigMap, mode 0600 on disk. */
  secret?: boolean;
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
  /** HTTP GET on this port and path answers 200 when the process is ready. */
  readiness: { port: string; path: string };
  /** Where the container keeps data, if it keeps any. */
  dataDir?: string;
}

/**
 * A set of identical pods (Deployment or StatefulSet). Args may contain POD_NAME,
 * so each replica gets its own name with one template.
 */
export interface PodSpec {
  cluster: string;
  /** Workload name; replica i is named `${name}-${i}`. */
  name: string;
  replicas: number;
  containers: Container[];
  /** The StoreAPI external labels of replica `pod`, for the containers that serve one. */
  storeLabels?: (pod: string) => Record<string, string>;
  /** Made by a Helm chart in the Kubernetes runtime, not by thanos-fleet's own manifests. */
  chart?: "kube-prometheus-stack";
}

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

export function podNames(pod: PodSpec): string[] {
  return Array.from({ length: pod.replicas }, (_, i) => `${pod.name}-${i}`);
}
