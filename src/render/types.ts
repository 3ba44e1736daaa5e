// What `render` produces for the Kubernetes runtime, per cluster: the contract between render and the kube runtime.

/** A Kubernetes object as applied by server-side apply. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
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
  /** Secrets, applied before anything that needs them. */
  secrets: KubeObject[];
  /** Everything else thanos-fleet applies itself, in apply order (Namespace first). */
  manifests: KubeObject[];
}

export interface PlanStep {
  title: string;
  cluster?: string;
  /** The exact commands a person could run by hand for this step. */
  commands: string[];
}

export interface RenderedFleet {
  clusters: RenderedCluster[];
  plan: PlanStep[];
}
