// Prometheus replicas of a workload cluster, each with its sidecar, as the Prometheus Operator runs them.

import { workloadNodePort } from "../topology/semantics.ts";
import { PROMETHEUS_NAME, type Topology, type Workload } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import { ALERTMANAGER_PORT, ALERTMANAGER_WORKLOAD } from "./alertmanager.ts";
import type { Addresses, SpecContext } from "./context.ts";
import { DEMO_PORT, DEMO_WORKLOAD } from "./demo.ts";
import { resourcesFor, type Sizing } from "./resources.ts";
import { storageScrapeJob } from "./storage.ts";
import { HTTP_PORT } from "./thanos/common.ts";
import { compactorScrapeJob } from "./thanos/compact.ts";
import { remoteWrite } from "./thanos/receive.ts";
import { prometheusLabels, sidecarContainer, sidecarService } from "./thanos/sidecar.ts";
import { type ComponentSpec, type Container, type Opening, POD_NAME, START_STAGE } from "./types.ts";
import { type ScrapeTls, scrapeTls, uniqueFiles, webClient, webServer } from "./web.ts";

export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_WORKLOAD = `prometheus-${PROMETHEUS_NAME}`;
export const PROMETHEUS_SIZING: Sizing = { memory: 256, limit: 1024, cpu: 100 };

/**
 * Every replica scrapes every replica and its sidecar at fixed addresses: a dead one is an `up == 0` its peer still
 * reports (discovery would drop the target of a pod that is gone). The HA alerts read these two jobs.
 */
export function peerScrapeJobs(
  target: (index: number, port: number) => string,
  replicas: number,
  tls: ScrapeTls = {},
  mode: Workload["mode"] = "sidecar",
  prometheusTls: ScrapeTls = tls,
) {
  const all = (port: number) => Array.from({ length: replicas }, (_, i) => target(i, port));
  return [
    { job_name: "prometheus", ...prometheusTls, static_configs: [{ targets: all(PROMETHEUS_PORT) }] },
    // A receive-mode cluster runs no sidecar.
    ...(mode === "sidecar"
      ? [{ job_name: "thanos-sidecar", ...tls, static_configs: [{ targets: all(HTTP_PORT) }] }]
      : []),
  ];
}

/**
 * What every workload cluster's Prometheus scrapes outside its cluster, on every runtime: the storage server and
 * mgmt's compactor (mgmt runs no Prometheus).
 */
export function fleetScrapeJobs(
  topology: Topology,
  addresses: Addresses,
  tls: ScrapeTls = {},
  s3Tls?: { ca: string; serverName: string },
): Record<string, unknown>[] {
  return [
    ...(topology.storage ? [storageScrapeJob(topology.storage, addresses, tls, s3Tls)] : []),
    compactorScrapeJob(topology, addresses, tls),
  ];
}

/** Where the Prometheus Operator mounts each Secret of `prometheusSpec.secrets`: `<this>/<Secret name>/<key>`. */
export const OPERATOR_SECRETS_DIR = "/etc/prometheus/secrets";

/** The operator's headless Service of every Prometheus it runs: each pod's DNS name is <pod>.<this>. */
export const OPERATOR_GOVERNING_SERVICE = "prometheus-operated";

/** The peer jobs on Kubernetes: each replica by its pod's DNS name, which resolves only while that pod exists. */
export function kubePeerScrapeJobs(workload: Workload, namespace: string, tls: ScrapeTls = {}) {
  return peerScrapeJobs(
    (i, port) =>
      `${workload.replicaNames[i]}.${OPERATOR_GOVERNING_SERVICE}.${namespace}.svc.cluster.local:${port}`,
    workload.replicaNames.length,
    tls,
    workload.mode,
    // Prometheus serves plain HTTP inside its cluster there (keptInside).
    {},
  );
}

export function prometheusConfig(topology: Topology, workload: Workload, ctx: SpecContext): string {
  return stringify(prometheusConfigObject(topology, workload, ctx));
}

function prometheusConfigObject(
  topology: Topology,
  workload: Workload,
  ctx: SpecContext,
): Record<string, unknown> {
  const { addresses } = ctx;
  const tls = scrapeTls(webClient(ctx, ctx.configDir(PROMETHEUS_WORKLOAD, "prometheus")));
  const scrape: Record<string, unknown>[] = [
    ...peerScrapeJobs(
      (i, port) => addresses.pod(workload.name, PROMETHEUS_WORKLOAD, i, port),
      workload.replicaNames.length,
      tls,
      workload.mode,
    ),
    {
      job_name: "alertmanager",
      ...tls,
      static_configs: [
        { targets: [addresses.service(workload.name, ALERTMANAGER_WORKLOAD, ALERTMANAGER_PORT)] },
      ],
    },
  ];
  if (ctx.demoScript) {
    scrape.push({
      job_name: DEMO_WORKLOAD,
      static_configs: [{ targets: [addresses.service(workload.name, DEMO_WORKLOAD, DEMO_PORT)] }],
    });
  }
  scrape.push(...fleetScrapeJobs(topology, addresses, tls, ctx.s3Tls));
  const write =
    workload.mode === "receive"
      ? {
          remote_write: [
            remoteWrite(topology, workload, ctx, ctx.configDir(PROMETHEUS_WORKLOAD, "prometheus")).config,
          ],
        }
      : {};
  return {
    global: {
      scrape_interval: workload.prometheus.scrapeInterval,
      evaluation_interval: workload.prometheus.scrapeInterval,
      external_labels: prometheusLabels(workload, POD_NAME),
    },
    alerting: {
      alertmanagers: [
        {
          ...tls,
          static_configs: [
            { targets: [addresses.service(workload.name, ALERTMANAGER_WORKLOAD, ALERTMANAGER_PORT)] },
          ],
        },
      ],
    },
    scrape_configs: scrape,
    ...write,
  };
}

/**
 * On Kubernetes with `tls.http`, each Prometheus keeps its port inside its cluster, in plain HTTP, and gets no NodePort:
 * the operator gives its sidecar a client config of its own for Prometheus, TLS without a client certificate
 * (prometheus-operator v0.93.1, `buildPrometheusHTTPClientConfigSecret`; it refuses `prometheus.http-client-file` in
 * the sidecar's additional args), so a Prometheus asking for the fleet's certificate would lose its sidecar. Its
 * `/-/quit`, `/-/reload` and TSDB admin API are then reachable from inside its cluster only; the global view and
 * the sidecar's HTTPS NodePort are what leaves it.
 */
function keptInside(topology: Topology, ctx: SpecContext): boolean {
  return topology.fleet.tls.http && ctx.operatorRunsPrometheus === true;
}

/** The NodePort of replica i's web UI: one per replica (WORKLOAD_NODE_PORTS). */
function prometheusNodePort(workload: Workload, i: number): number {
  return workloadNodePort(workload, "prometheus", i);
}

/**
 * A workload cluster's Prometheus replicas, each with its sidecar (on Kubernetes the chart's operator runs them), and
 * per replica the sidecar's Service and one for Prometheus's web UI.
 */
export function prometheus(topology: Topology, workload: Workload, ctx: SpecContext): ComponentSpec {
  const name = PROMETHEUS_WORKLOAD;
  const configDir = ctx.configDir(name, "prometheus");
  // Its port is on a NodePort: with `tls.http`, HTTPS and only the fleet's client certificates get in, so /-/quit,
  // /-/reload and the TSDB admin API are closed to anyone else. It reaches its peers, its sidecar's peers,
  // Alertmanager and the compactor the same way.
  const inside = keptInside(topology, ctx);
  const web = inside ? { args: [], files: [] } : webServer(ctx, configDir, "--web.config.file");
  const client = webClient(ctx, configDir);
  const probeTls = ctx.httpTls && !inside ? { tls: true } : {};
  const receiveMode = workload.mode === "receive";
  const writeFiles = receiveMode ? remoteWrite(topology, workload, ctx, configDir).files : [];
  const container: Container = {
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
      ...web.args,
    ],
    files: uniqueFiles([
      { name: "prometheus.yml", content: prometheusConfig(topology, workload, ctx) },
      ...web.files,
      ...client.files,
      ...writeFiles,
    ]),
    ports: [{ name: "web", port: PROMETHEUS_PORT, protocol: "http" }],
    readiness: { port: "web", path: "/-/ready", ...probeTls },
    liveness: { port: "web", path: "/-/healthy", ...probeTls },
    resources: resourcesFor(PROMETHEUS_SIZING, topology.fleet.profile),
    dataDir: ctx.dataDir(name, "prometheus"),
  };
  return {
    pods: [
      {
        cluster: workload.name,
        name,
        replicas: workload.prometheus.replicas,
        stateful: true,
        stage: START_STAGE.workload,
        // A receive-mode cluster's replicas remote-write and run no sidecar.
        containers: receiveMode ? [container] : [container, sidecarContainer(topology, ctx, name)],
        storeLabels: (pod) => prometheusLabels(workload, pod),
        chart: "kube-prometheus-stack",
      },
    ],
    services: workload.replicaNames.flatMap((pod, i) => [
      ...(receiveMode ? [] : [sidecarService(workload, i, name, pod)]),
      {
        cluster: workload.name,
        name: `prometheus-${i}`,
        selector: { workload: name, pod },
        ports: [
          {
            name: "web",
            port: PROMETHEUS_PORT,
            targetPort: PROMETHEUS_PORT,
            ...(inside ? {} : { nodePort: prometheusNodePort(workload, i) }),
          },
        ],
        chart: "kube-prometheus-stack" as const,
      },
    ]),
  };
}

export function prometheusOpenings(topology: Topology, workload: Workload): Opening[] {
  // On Kubernetes with tls.http, Prometheus keeps its port inside its cluster (keptInside).
  const runtimes: Opening["runtimes"] = topology.fleet.tls.http ? ["local"] : ["kubernetes", "local"];
  return workload.replicaNames.map((_, i) => ({
    cluster: workload.name,
    name: `prometheus-${i}`,
    title: `Prometheus replica ${i}`,
    nodePort: prometheusNodePort(workload, i),
    runtimes,
    // A page, but one per replica: up's closing lines leave them out.
    ui: false,
  }));
}
