// The library: topology in, component specs and rendered artifacts out, runtimes to realise them.
export { loadTopology, parseFleet, parseFleetYaml, DEFAULT_FLEET } from "./topology/load.ts";
export { ConfigError } from "./topology/errors.ts";
export type { Topology, Workload } from "./topology/topology.ts";
export { buildFleet, objectStoreAccess } from "./components/fleet.ts";
export type { FleetSpec } from "./components/fleet.ts";
export type { PodSpec, ServiceSpec, Container } from "./components/types.ts";
export type { SpecContext, Addresses } from "./components/context.ts";
export type { FleetEndpoints, Target } from "./endpoints.ts";
export type { Runtime } from "./runtimes/runtime.ts";
