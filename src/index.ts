// The library: topology in, component specs and rendered artifacts out, runtimes to realise them.

export type { Addresses, SpecContext } from "./components/context.ts";
export type { FleetSpec } from "./components/fleet.ts";
export { buildFleet, objectStoreAccess } from "./components/fleet.ts";
export type { Container, PodSpec, ServiceSpec } from "./components/types.ts";
export type { FleetEndpoints, Target } from "./endpoints.ts";
export { kubeAddresses, kubeSpecContext } from "./render/addresses.ts";
export { renderFleet } from "./render/render.ts";
export type { KubeObject, RenderedCluster, RenderedFleet } from "./render/types.ts";
export type { Runtime } from "./runtimes/runtime.ts";
export { ConfigError } from "./topology/errors.ts";
export { DEFAULT_FLEET, loadTopology, parseFleet, parseFleetYaml } from "./topology/load.ts";
export type { Topology, Workload } from "./topology/topology.ts";
export type { CheckResult, Report } from "./verify/types.ts";
export { verifyFleet } from "./verify/verify.ts";
export { verifyFleetUntil } from "./verify/wait.ts";
