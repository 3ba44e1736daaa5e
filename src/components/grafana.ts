// Grafana, run by the chart in each workload cluster (Kubernetes only): its sizing and the port a person opens.
import { workloadNodePort } from "../topology/semantics.ts";
import type { Topology, Workload } from "../topology/topology.ts";
import type { Sizing } from "./resources.ts";
import type { Opening } from "./types.ts";

export const GRAFANA_SIZING: Sizing = { memory: 128, limit: 512, cpu: 25 };

export function grafanaNodePort(w: Workload): number {
  return workloadNodePort(w, "grafana", 0);
}

/** With `grafana: false` its kind host port stays mapped (reserved): a kind cluster's port mappings are fixed at creation. */
export function grafanaOpenings(topology: Topology, w: Workload): Opening[] {
  return [
    {
      cluster: w.name,
      name: "grafana",
      title: "Grafana",
      nodePort: grafanaNodePort(w),
      runtimes: ["kubernetes"],
      ui: true,
      ...(topology.fleet.grafana ? {} : { reserved: true }),
    },
  ];
}
