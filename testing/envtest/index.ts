// Test-only: real kube-apiserver + etcd control planes for the Kubernetes runtime's API tests.
export {
  type ControlPlane,
  type ControlPlaneOptions,
  ControlPlaneStartError,
  startControlPlane,
  startControlPlanes,
} from "./controlplane.ts";
export { type KubeconfigEntry, kubeconfigYaml, writeKubeconfig } from "./kubeconfig.ts";
export { type KindNode, kindNodeNames, registerKindNodes } from "./nodes.ts";
export { removeAtExit } from "./process.ts";
export { type StatusReporter, type StatusReporterOptions, startStatusReporter } from "./status.ts";
