// What `render` produces for the Kubernetes runtime, per cluster: the contract between render and the kube runtime.
import type { FleetSpec } from "../components/fleet.ts";

/** A Kubernetes object as applied by server-side apply. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** A NodePort published on the host by kind's extraPortMappings (127.0.0.1:hostPort). */
export interface HostPort {
  /** What a person opens there, e.g. `query-frontend`, `grafana`, `prometheus-0`. */
  name: string;
  nodePort: number;
  hostPort: number;
}

/** A workload the chart runs: its replicas and each container's memory request (a Kubernetes quantity). */
export interface ChartPod {
  name: string;
  /** What it is, in words (podTitle): `Prometheus`, `Alertmanager`. */
  title: string;
  replicas: number;
  memoryRequests: string[];
}

export interface RenderedCluster {
  cluster: string;
  role: "observer" | "workload" | "storage";
  /** kube context used to reach it: `kind-<name>` or the configured context. */
  context: string;
  /** kind Cluster config; absent for an existing cluster. */
  kindConfig?: Record<string, unknown>;
  /** kube-prometheus-stack values (workload clusters); never a credential. */
  helmValues?: Record<string, unknown>;
  /**
   * The pods the chart runs from helmValues (workload clusters), as their component specs give them: what preflight
   * counts for them without knowing which containers a cluster's mode puts in its Prometheus pods.
   */
  chartPods?: ChartPod[];
  /** Secrets, applied before anything that needs them. */
  secrets: KubeObject[];
  /**
   * With a cert-manager Issuer (`tls.issuer`): a cert-manager `Certificate` per server workload, applied after the
   * Secrets and before the workloads, which mount the Secrets cert-manager writes for them.
   */
  certificates?: KubeObject[];
  /** Everything else thanos-fleet applies itself, in apply order (Namespace first). */
  manifests: KubeObject[];
  /** Host ports of a kind cluster (empty for an existing cluster). */
  hostPorts: HostPort[];
}

export interface PlanStep {
  title: string;
  cluster?: string;
  /** The exact commands a person could run by hand for this step. */
  commands: string[];
  /** Why the step is there, or what to watch for. */
  why?: string;
}

export interface RenderedFleet {
  clusters: RenderedCluster[];
  plan: PlanStep[];
  /** Address variables left as `${NAME}` placeholders because `up` has not discovered them yet. */
  openAddresses: { cluster: string; variable: string; command: string }[];
  /**
   * The fleet spec these objects were rendered from (images before a registry mirror renames them): what the runtime
   * reads of the fleet's pods and Services, so it builds the fleet once per render instead of again from the topology.
   */
  spec: FleetSpec;
}
