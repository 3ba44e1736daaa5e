// Alertmanager, one per cluster that has alerts to receive: the ruler's in mgmt, Prometheus's in each workload cluster.
import type { Topology } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import type { SpecContext } from "./context.ts";
import type { PodSpec } from "./types.ts";

export const ALERTMANAGER_PORT = 9093;

export function alertmanagerConfig(): string {
  return stringify({
    route: {
      receiver: "default",
      group_by: ["alertname", "cluster"],
      group_wait: "5s",
      repeat_interval: "1h",
    },
    receivers: [{ name: "default" }],
  });
}

export function alertmanagerPod(topology: Topology, cluster: string, ctx: SpecContext): PodSpec {
  const name = "alertmanager";
  return {
    cluster,
    name,
    replicas: 1,
    containers: [
      {
        name: "alertmanager",
        component: "alertmanager",
        binary: "alertmanager",
        image: `quay.io/prometheus/alertmanager:${topology.fleet.versions.alertmanager}`,
        args: [
          `--config.file=${ctx.configDir(name, "alertmanager")}/alertmanager.yml`,
          `--storage.path=${ctx.dataDir(name, "alertmanager")}`,
          `--web.listen-address=${ctx.listenHost}:${ALERTMANAGER_PORT}`,
          // A single replica: no gossip cluster to join.
          "--cluster.listen-address=",
        ],
        files: [{ name: "alertmanager.yml", content: alertmanagerConfig() }],
        ports: [{ name: "http", port: ALERTMANAGER_PORT, protocol: "http" }],
        readiness: { port: "http", path: "/-/ready" },
        dataDir: ctx.dataDir(name, "alertmanager"),
      },
    ],
  };
}
