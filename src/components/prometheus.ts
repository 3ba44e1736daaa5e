// Prometheus replicas of a workload cluster, each with its sidecar, as the Prometheus Operator runs them.
import type { StorageConfig } from "../topology/schema.ts";
import { PROMETHEUS_NAME, type Topology, type Workload } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import type { Addresses, SpecContext } from "./context.ts";
import { HTTP_PORT, prometheusLabels, sidecarContainer } from "./thanos.ts";
import { type Container, POD_NAME, type PodSpec } from "./types.ts";

export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_WORKLOAD = `prometheus-${PROMETHEUS_NAME}`;
export const DEMO_WORKLOAD = "fleet-demo";
export const DEMO_PORT = 8080;
export const WORKLOAD_ALERTMANAGER = "alertmanager";

/** The storage server's metrics, scraped by each workload cluster's Prometheus (the guide's MinIO job). */
export function storageScrapeJob(storage: StorageConfig, addresses: Addresses): Record<string, unknown> {
  if (storage.server === "seaweedfs") {
    return {
      job_name: "seaweedfs-metrics",
      static_configs: [{ targets: [addresses.exposed(storage.name, storage.nodePorts.console)] }],
    };
  }
  return minioScrapeJob(addresses.exposed(storage.name, storage.nodePorts.api));
}

/** The MinIO metrics job the guide adds to each workload cluster's Prometheus. */
export function minioScrapeJob(target: string): Record<string, unknown> {
  return {
    job_name: "minio-metrics",
    metrics_path: "/minio/v2/metrics/cluster",
    static_configs: [{ targets: [target] }],
  };
}

/**
 * Every replica scrapes every replica and its sidecar at fixed addresses: a dead one is an `up == 0` its peer still
 * reports (discovery would drop the target of a pod that is gone). The HA alerts read these two jobs.
 */
export function peerScrapeJobs(target: (index: number, port: number) => string, replicas: number) {
  const all = (port: number) => Array.from({ length: replicas }, (_, i) => target(i, port));
  return [
    { job_name: "prometheus", static_configs: [{ targets: all(PROMETHEUS_PORT) }] },
    { job_name: "thanos-sidecar", static_configs: [{ targets: all(HTTP_PORT) }] },
  ];
}

/** The operator's headless Service of every Prometheus it runs: each pod's DNS name is <pod>.<this>. */
export const OPERATOR_GOVERNING_SERVICE = "prometheus-operated";

/** The peer jobs on Kubernetes: each replica by its pod's DNS name, which resolves only while that pod exists. */
export function kubePeerScrapeJobs(workload: Workload, namespace: string) {
  return peerScrapeJobs(
    (i, port) =>
      `${PROMETHEUS_WORKLOAD}-${i}.${OPERATOR_GOVERNING_SERVICE}.${namespace}.svc.cluster.local:${port}`,
    workload.replicaNames.length,
  );
}

export function prometheusConfig(topology: Topology, workload: Workload, ctx: SpecContext): string {
  const { addresses } = ctx;
  const scrape: Record<string, unknown>[] = [
    ...peerScrapeJobs(
      (i, port) => addresses.pod(workload.name, PROMETHEUS_WORKLOAD, i, port),
      workload.replicaNames.length,
    ),
    {
      job_name: "alertmanager",
      static_configs: [{ targets: [addresses.service(workload.name, WORKLOAD_ALERTMANAGER, 9093)] }],
    },
  ];
  if (ctx.demoScript) {
    scrape.push({
      job_name: DEMO_WORKLOAD,
      static_configs: [{ targets: [addresses.service(workload.name, DEMO_WORKLOAD, DEMO_PORT)] }],
    });
  }
  if (topology.storage) scrape.push(storageScrapeJob(topology.storage, addresses));
  return stringify({
    global: {
      scrape_interval: workload.prometheus.scrapeInterval,
      evaluation_interval: workload.prometheus.scrapeInterval,
      external_labels: prometheusLabels(workload, POD_NAME),
    },
    alerting: {
      alertmanagers: [
        { static_configs: [{ targets: [addresses.service(workload.name, WORKLOAD_ALERTMANAGER, 9093)] }] },
      ],
    },
    scrape_configs: scrape,
  });
}

export function prometheusPod(topology: Topology, workload: Workload, ctx: SpecContext): PodSpec {
  const name = PROMETHEUS_WORKLOAD;
  const configDir = ctx.configDir(name, "prometheus");
  const prometheus: Container = {
    name: "prometheus",
    component: "prometheus",
    binary: "prometheus",
    image: `quay.io/prometheus/prometheus:${topology.fleet.versions.prometheus}`,
    args: [
      `--config.file=${configDir}/prometheus.yml`,
      `--storage.tsdb.path=${ctx.dataDir(name, "prometheus")}`,
      `--storage.tsdb.retention.time=${workload.prometheus.retention}`,
      // Equal min and max block durations: the sidecar uploads blocks, Prometheus must not compact them.
      `--storage.tsdb.min-block-duration=${ctx.blockDuration}`,
      `--storage.tsdb.max-block-duration=${ctx.blockDuration}`,
      `--web.listen-address=${ctx.listenHost}:${PROMETHEUS_PORT}`,
      "--web.enable-lifecycle",
      "--log.level=info",
    ],
    files: [{ name: "prometheus.yml", content: prometheusConfig(topology, workload, ctx) }],
    ports: [{ name: "web", port: PROMETHEUS_PORT, protocol: "http" }],
    readiness: { port: "web", path: "/-/ready" },
    dataDir: ctx.dataDir(name, "prometheus"),
  };
  return {
    cluster: workload.name,
    name,
    replicas: workload.prometheus.replicas,
    containers: [prometheus, sidecarContainer(topology, ctx, name)],
    storeLabels: (pod) => prometheusLabels(workload, pod),
    chart: "kube-prometheus-stack",
  };
}

/** A small service that exposes metrics labelled by its cluster, for the local runtime's fleet. */
export function demoPod(workload: Workload, ctx: SpecContext): PodSpec {
  return {
    cluster: workload.name,
    name: DEMO_WORKLOAD,
    replicas: 1,
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
      },
    ],
  };
}
