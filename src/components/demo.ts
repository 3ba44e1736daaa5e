// A small service that exposes metrics labelled by its cluster, for the local runtime's fleet.
import type { Topology, Workload } from "../topology/topology.ts";
import type { SpecContext } from "./context.ts";
import { resourcesFor } from "./resources.ts";
import { type ComponentSpec, START_STAGE } from "./types.ts";

export const DEMO_WORKLOAD = "fleet-demo";
export const DEMO_PORT = 8080;

export function demo(topology: Topology, workload: Workload, ctx: SpecContext): ComponentSpec {
  return {
    pods: [
      {
        cluster: workload.name,
        name: DEMO_WORKLOAD,
        replicas: 1,
        stateful: false,
        stage: START_STAGE.workload,
        containers: [
          {
            name: "demo",
            component: "demo",
            binary: "node",
            image: "node:20-alpine",
            args: [
              ctx.demoScript ?? "demo.js",
              `--listen=${ctx.listenHost}:${DEMO_PORT}`,
              `--cluster=${workload.name}`,
            ],
            files: [],
            ports: [{ name: "http", port: DEMO_PORT, protocol: "http" }],
            readiness: { port: "http", path: "/-/ready" },
            liveness: { port: "http", path: "/-/healthy" },
            resources: resourcesFor({ memory: 16, limit: 64, cpu: 10 }, topology.fleet.profile),
          },
        ],
      },
    ],
    services: [
      {
        cluster: workload.name,
        name: DEMO_WORKLOAD,
        selector: { workload: DEMO_WORKLOAD },
        ports: [{ name: "http", port: DEMO_PORT, targetPort: DEMO_PORT }],
      },
    ],
  };
}
