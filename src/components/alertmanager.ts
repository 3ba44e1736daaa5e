// Alertmanager, one per cluster that has alerts to receive: the ruler's in mgmt, Prometheus's in each workload cluster
// (there the chart runs it on Kubernetes).
import { workloadNodePort } from "../topology/semantics.ts";
import type { Topology } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import type { SpecContext } from "./context.ts";
import { resourcesFor, type Sizing } from "./resources.ts";
import { type ComponentSpec, type Opening, podName, START_STAGE } from "./types.ts";
import { webServer } from "./web.ts";

export const ALERTMANAGER_PORT = 9093;
export const ALERTMANAGER_WORKLOAD = "alertmanager";

/** mgmt's Alertmanager, its only replica (a workload cluster's is the chart's, named by the Prometheus Operator). */
export const MGMT_ALERTMANAGER_POD = podName(ALERTMANAGER_WORKLOAD, 0);
export const ALERTMANAGER_SIZING: Sizing = { memory: 32, limit: 128, cpu: 10 };

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

/** The NodePort of a cluster's Alertmanager: mgmt's or a workload cluster's own. */
export function alertmanagerNodePort(topology: Topology, cluster: string): number {
  if (cluster === topology.observer.name) return topology.observer.nodePorts.alertmanager;
  const w = topology.workloads.find((x) => x.name === cluster);
  if (!w)
    throw new Error(`cluster ${cluster} runs no Alertmanager: it is neither mgmt nor a workload cluster`);
  return workloadNodePort(w, "alertmanager", 0);
}

export function alertmanager(topology: Topology, cluster: string, ctx: SpecContext): ComponentSpec {
  const name = ALERTMANAGER_WORKLOAD;
  const mgmt = cluster === topology.observer.name;
  // Its port is on a NodePort: HTTPS with the fleet's client certificates (with `tls.http`), silences included.
  const web = webServer(ctx, ctx.configDir(name, "alertmanager"), "--web.config.file");
  const probeTls = ctx.httpTls ? { tls: true } : {};
  return {
    pods: [
      {
        cluster,
        name,
        replicas: 1,
        stateful: true,
        // The ruler sends to mgmt's; a workload cluster's starts with its Prometheus.
        stage: mgmt ? START_STAGE.mgmtBackends : START_STAGE.workload,
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
              ...web.args,
            ],
            files: [{ name: "alertmanager.yml", content: alertmanagerConfig() }, ...web.files],
            ports: [{ name: "http", port: ALERTMANAGER_PORT, protocol: "http" }],
            readiness: { port: "http", path: "/-/ready", ...probeTls },
            liveness: { port: "http", path: "/-/healthy", ...probeTls },
            resources: resourcesFor(ALERTMANAGER_SIZING, topology.fleet.profile),
            dataDir: ctx.dataDir(name, "alertmanager"),
          },
        ],
      },
    ],
    services: [
      {
        cluster,
        name,
        selector: { workload: name },
        ports: [
          {
            name: "http",
            port: ALERTMANAGER_PORT,
            targetPort: ALERTMANAGER_PORT,
            nodePort: alertmanagerNodePort(topology, cluster),
          },
        ],
        // In a workload cluster, the chart's Alertmanager Service.
        ...(mgmt ? {} : { chart: "kube-prometheus-stack" as const }),
      },
    ],
  };
}

/**
 * mgmt's Alertmanager; a workload cluster's is listed by the local runtime only (kind publishes no host port for it,
 * and a kind cluster's port mappings are fixed when it is created).
 */
export function alertmanagerOpenings(topology: Topology, cluster: string): Opening[] {
  const mgmt = cluster === topology.observer.name;
  return [
    {
      cluster,
      name: "alertmanager",
      title: "Alertmanager",
      nodePort: alertmanagerNodePort(topology, cluster),
      runtimes: mgmt ? ["kubernetes", "local"] : ["local"],
      ui: true,
    },
  ];
}
