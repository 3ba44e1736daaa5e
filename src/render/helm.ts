import { createHash } from "node:crypto";
// kube-prometheus-stack values for a workload cluster: Prometheus HA with the sidecar, Grafana pointed at mgmt.
import {
  ALERTMANAGER_PORT,
  ALERTMANAGER_WORKLOAD,
  alertmanagerNodePort,
} from "../components/alertmanager.ts";
import { NAMESPACE, type SpecContext } from "../components/context.ts";
import { GRAFANA_SIZING, grafanaNodePort } from "../components/grafana.ts";
import { OBJSTORE_FILE } from "../components/objstore.ts";
import {
  fleetScrapeJobs,
  kubePeerScrapeJobs,
  OPERATOR_SECRETS_DIR,
  PROMETHEUS_WORKLOAD,
} from "../components/prometheus.ts";
import { resourcesFor } from "../components/resources.ts";
import { thanosImage } from "../components/thanos/common.ts";
import { queryFrontendAddress } from "../components/thanos/query-frontend.ts";
import { operatorRemoteWrite } from "../components/thanos/receive.ts";
import { type Container, type PodSpec, podName } from "../components/types.ts";
import {
  HTTP_TLS_FILES,
  type ScrapeTls,
  scrapeTls,
  WEB_CONFIG_FILE,
  webClient,
  webConfig,
} from "../components/web.ts";
import { fleetPath, type Topology, type Workload } from "../topology/topology.ts";
import { mergeValues } from "../topology/values.ts";
import { stringify } from "../yaml.ts";
import { S3_CA_MOUNT, S3_CA_SECRET } from "./addresses.ts";
import { mirrorChartImages } from "./chart-images.ts";
import { CHART_ALERTMANAGER_SERVICE, SERVER_TLS_KEYS, serverTlsSecretName } from "./server-certs.ts";
import type { KubeObject } from "./types.ts";
import { OBJSTORE_SECRET, secret } from "./workloads.ts";

export const RELEASE = "kube-prometheus-stack";
export const CHART = "prometheus-community/kube-prometheus-stack";
export const CHART_REPO = "https://prometheus-community.github.io/helm-charts";
/**
 * Pod name of replica `index` of the chart's Alertmanager in a workload cluster: the chart names its Alertmanager CR
 * `<release>-alertmanager`, and the Prometheus Operator names that CR's pods `alertmanager-<CR>-<i>`.
 */
export function chartAlertmanagerPodName(index: number): string {
  return podName(`alertmanager-${RELEASE}-alertmanager`, index);
}
export const GRAFANA_SECRET = "grafana-admin";
export const GRAFANA_DATASOURCE_UID = "thanos";
/** The chart's datasource ConfigMap (`<fullname>-grafana-datasource`), labelled for Grafana's sidecar. */
export const GRAFANA_DATASOURCE_CONFIGMAP = `${RELEASE}-grafana-datasource`;

/** Where Helm installs kube-prometheus-stack from: the repository's chart, or fleet.yaml's chart.path. */
export function chartSource(topology: Topology): { chart: string; local: boolean } {
  const path = topology.fleet.chart?.path;
  return path ? { chart: fleetPath(topology, path), local: true } : { chart: CHART, local: false };
}

/** `quay.io/prometheus/prometheus:v3.14.0` → the chart's image object. */
export function imageParts(image: string): { registry: string; repository: string; tag: string } {
  const m = /^([^/]+)\/(.+):([^:/@]+)$/.exec(image);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`image '${image}' is not registry/repository:tag`);
  return { registry: m[1], repository: m[2], tag: m[3] };
}

function container(pod: PodSpec, name: string) {
  const c = pod.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${pod.cluster}/${pod.name} has no container ${name}`);
  return c;
}

const OBJSTORE_HASH = "thanos-fleet.io/objstore-hash";

/**
 * A chart-run server's own certificate (the Prometheus pair's sidecars, Alertmanager): what its Secret holds. The
 * Prometheus pair's Secret also holds the fleet CA, the client CA of its gRPC server.
 */
export interface ChartServerTls {
  ca: string;
  cert: string;
  key: string;
}

/** The Prometheus pair's Secret of its own: its certificate and key, the gRPC server's client CA. */
export const PROMETHEUS_TLS_SECRET = serverTlsSecretName(PROMETHEUS_WORKLOAD);
/** Where the operator mounts it in the Prometheus container; the sidecar mounts it at the same path. */
const PROMETHEUS_TLS_MOUNT = `${OPERATOR_SECRETS_DIR}/${PROMETHEUS_TLS_SECRET}`;
/** The chart's Alertmanager's Secret of its own (the operator reads it into Alertmanager's web config). */
export const ALERTMANAGER_TLS_SECRET = serverTlsSecretName(ALERTMANAGER_WORKLOAD);

/** A chart-run server's Secret of its own: renewed in place, the operator and the kubelet carry it into the pods. */
export function chartServerTlsSecret(name: string, tls: ChartServerTls): KubeObject {
  return secret(name, { "ca.crt": tls.ca, [SERVER_TLS_KEYS.cert]: tls.cert, [SERVER_TLS_KEYS.key]: tls.key });
}

/**
 * With a cert-manager Issuer (`tls.issuer`), the Prometheus pair's own Secret is cert-manager's, whose `ca.crt` is the
 * issuer's CA: the sidecar's gRPC server verifies the fleet's client certificates against the fleet CA from this
 * Secret instead (the trust bundle: the fleet CA and the issuer's).
 */
export const CLIENT_CA_SECRET = "thanos-fleet-client-ca";
const CLIENT_CA_MOUNT = `${OPERATOR_SECRETS_DIR}/${CLIENT_CA_SECRET}`;

export function clientCaSecret(ca: string): KubeObject {
  return secret(CLIENT_CA_SECRET, { "ca.crt": ca });
}

/**
 * With `tls.grpc` or `tls.http`: the Prometheus pair's own Secret in the Prometheus pods, mounted into the sidecar,
 * and (`tls.grpc`) the operator's TLS flags. With the storage cluster's HTTPS: the fleet CA that objstore.yml names,
 * mounted into the sidecar.
 */
function sidecarTls(ctx: SpecContext, issued: boolean) {
  const s3 = ctx.s3Tls
    ? {
        secrets: [S3_CA_SECRET],
        mounts: [{ name: `secret-${S3_CA_SECRET}`, mountPath: S3_CA_MOUNT, readOnly: true }],
      }
    : { secrets: [], mounts: [] };
  if (!ctx.grpcTls && !ctx.httpTls) return { secrets: s3.secrets, thanos: { volumeMounts: s3.mounts } };
  const clientCa = issued && ctx.grpcTls;
  return {
    secrets: [PROMETHEUS_TLS_SECRET, ...(clientCa ? [CLIENT_CA_SECRET] : []), ...s3.secrets],
    thanos: {
      volumeMounts: [
        { name: `secret-${PROMETHEUS_TLS_SECRET}`, mountPath: PROMETHEUS_TLS_MOUNT, readOnly: true },
        ...(clientCa
          ? [{ name: `secret-${CLIENT_CA_SECRET}`, mountPath: CLIENT_CA_MOUNT, readOnly: true }]
          : []),
        ...s3.mounts,
      ],
      ...(ctx.grpcTls
        ? {
            // The operator turns these into --grpc-server-tls-cert/-key/-client-ca.
            grpcServerTlsConfig: {
              caFile: `${clientCa ? CLIENT_CA_MOUNT : PROMETHEUS_TLS_MOUNT}/ca.crt`,
              certFile: `${PROMETHEUS_TLS_MOUNT}/${SERVER_TLS_KEYS.cert}`,
              keyFile: `${PROMETHEUS_TLS_MOUNT}/${SERVER_TLS_KEYS.key}`,
            },
          }
        : {}),
    },
  };
}

type HttpTlsValues = NonNullable<ReturnType<typeof httpTlsValues>>;

/**
 * The HTTP TLS material of a workload cluster (`tls.http`): the fleet CA, the fleet's client certificate and key, and
 * the sidecar's web config and Prometheus client config that name them (the sidecar's own certificate is in the
 * Prometheus pair's Secret). The operator mounts it into the Prometheus container at HTTP_TLS_MOUNT
 * (`prometheusSpec.secrets`); the sidecar and Grafana get it at the same path, so every file path in the values is
 * the same in every container.
 */
export const HTTP_TLS_SECRET = "thanos-fleet-http-tls";
export const HTTP_TLS_MOUNT = `/etc/prometheus/secrets/${HTTP_TLS_SECRET}`;

export function httpTlsSecret(ctx: SpecContext): KubeObject {
  const tls = ctx.httpTls;
  if (!tls) throw new Error("httpTlsSecret needs the fleet's HTTP TLS material (tls.http)");
  const web = webConfig(tls, HTTP_TLS_MOUNT) ?? {};
  const server = web.tls_server_config as Record<string, unknown>;
  return secret(HTTP_TLS_SECRET, {
    [HTTP_TLS_FILES.ca]: tls.ca,
    [HTTP_TLS_FILES.clientCert]: tls.clientCert,
    [HTTP_TLS_FILES.clientKey]: tls.clientKey,
    [WEB_CONFIG_FILE]: stringify({
      ...web,
      tls_server_config: {
        ...server,
        cert_file: `${PROMETHEUS_TLS_MOUNT}/${SERVER_TLS_KEYS.cert}`,
        key_file: `${PROMETHEUS_TLS_MOUNT}/${SERVER_TLS_KEYS.key}`,
      },
    }),
  });
}

/** How the fleet's Prometheus reaches an HTTPS port of the fleet: the client certificate mounted from the Secret. */
export function kubeScrapeTls(ctx: SpecContext): ScrapeTls {
  return scrapeTls(webClient(ctx, HTTP_TLS_MOUNT));
}

/** A TCP connect on `port`: the kubelet has no client certificate, an HTTPS GET would fail in the handshake. */
function tcpProbe(port: number) {
  return { tcpSocket: { port } };
}

/** The operator's web TLS (`web.tlsConfig`, for Prometheus and Alertmanager alike): from the Secret, client certs required. */
function operatorWebTls() {
  const own = (key: string) => ({ name: ALERTMANAGER_TLS_SECRET, key });
  return {
    tlsConfig: {
      cert: { secret: own(SERVER_TLS_KEYS.cert) },
      keySecret: own(SERVER_TLS_KEYS.key),
      client_ca: { secret: { name: HTTP_TLS_SECRET, key: HTTP_TLS_FILES.ca } },
      clientAuthType: "RequireAndVerifyClientCert",
      minVersion: "TLS12",
    },
  };
}

/**
 * With `tls.http`, what the chart's values add so that every HTTP port of a workload cluster on a NodePort serves
 * HTTPS and answers only the fleet's client certificate: each sidecar (`--http.config`) and Alertmanager. Prometheus
 * itself keeps its port inside its cluster, in plain HTTP (see keptInside in components/prometheus.ts: the operator's
 * own client config for the sidecar carries no client certificate). Alertmanager's kubelet probes become TCP connects;
 * Prometheus sends its alerts to Alertmanager, and scrapes the sidecars, Alertmanager and mgmt's compactor, with the
 * client certificate from the Secret it mounts. The chart's self-monitoring ServiceMonitor of Alertmanager is left
 * out (it would scrape the config reloader with the same TLS settings): the fleet's own job covers Alertmanager.
 * Undefined without `tls.http`.
 */
function httpTlsValues(ctx: SpecContext) {
  if (!ctx.httpTls) return undefined;
  const client = webClient(ctx, HTTP_TLS_MOUNT).tlsConfig ?? {};
  return {
    prometheusSpec: { secrets: [HTTP_TLS_SECRET] },
    thanos: {
      volumeMounts: [{ name: `secret-${HTTP_TLS_SECRET}`, mountPath: HTTP_TLS_MOUNT, readOnly: true }],
      additionalArgs: [{ name: "http.config", value: `${HTTP_TLS_MOUNT}/${WEB_CONFIG_FILE}` }],
    },
    alertmanager: {
      serviceMonitor: { selfMonitor: false },
      alertmanagerSpec: {
        web: operatorWebTls(),
        containers: [
          {
            name: "alertmanager",
            readinessProbe: tcpProbe(ALERTMANAGER_PORT),
            livenessProbe: tcpProbe(ALERTMANAGER_PORT),
          },
        ],
        // The chart turns these two into Prometheus's alerting endpoint: alerts go with the client certificate, to
        // each pod's address found from the Service's endpoints, so the name verified is the Service's (in
        // Alertmanager's own certificate).
        scheme: "https",
        tlsConfig: {
          caFile: client.ca_file,
          certFile: client.cert_file,
          keyFile: client.key_file,
          serverName: client.server_name ?? `${CHART_ALERTMANAGER_SERVICE}.${NAMESPACE}.svc`,
        },
      },
    },
  };
}

/** The fleet's scrape job of the chart's Alertmanager (with `tls.http`, in place of the chart's ServiceMonitor). */
function alertmanagerScrapeJob(ctx: SpecContext): Record<string, unknown>[] {
  if (!ctx.httpTls) return [];
  return [
    {
      job_name: ALERTMANAGER_WORKLOAD,
      ...kubeScrapeTls(ctx),
      static_configs: [
        { targets: [`${RELEASE}-alertmanager.${NAMESPACE}.svc.cluster.local:${ALERTMANAGER_PORT}`] },
      ],
    },
  ];
}

/**
 * What a sidecar-mode cluster's Prometheus gets: the Thanos sidecar (image, block size, objstore.yml from its
 * Secret, TLS) and a pod annotation that rolls the pods when objstore.yml changes; Prometheus does not compact, the
 * sidecar uploads its blocks.
 */
function sidecarValues(
  ctx: SpecContext,
  prometheus: PodSpec,
  http: HttpTlsValues | undefined,
  issued: boolean,
) {
  const sidecar = container(prometheus, "thanos-sidecar");
  const tls = sidecarTls(ctx, issued);
  const mounts = [...(tls.thanos.volumeMounts ?? []), ...(http?.thanos.volumeMounts ?? [])];
  return {
    prometheus: {
      // In-cluster discovery only (headless); other clusters reach each replica through its own NodePort Service.
      thanosService: { enabled: true },
    },
    // The sidecar reads objstore.yml only at start: a changed bucket address must roll the Prometheus pods.
    annotations: { [OBJSTORE_HASH]: objstoreHash(sidecar) },
    secrets: tls.secrets,
    compaction: {
      // min = max block duration, as the local runtime runs it: the operator only applies thanos.blockSize with
      // compaction disabled (otherwise, with Prometheus 3 and a recent Thanos, it delays compaction and cuts 2h blocks).
      disableCompaction: true,
    },
    prometheusSpec: {
      thanos: {
        image: sidecar.image,
        version: imageParts(sidecar.image).tag,
        // The operator sets Prometheus's min and max block duration from it; the fleet's `blocks.duration`.
        blockSize: ctx.blockDuration,
        objectStorageConfig: { existingSecret: { name: OBJSTORE_SECRET, key: OBJSTORE_FILE } },
        resources: sidecar.resources,
        ...tls.thanos,
        ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
        ...(http ? { additionalArgs: http.thanos.additionalArgs } : {}),
      },
    },
  };
}

/**
 * What a receive-mode cluster's Prometheus gets instead: no sidecar (nothing dials into the cluster, no block leaves it
 * but through the observer's ingesters), and the remote write of the receive component, its TLS files from the
 * Secret receiveWriterSecrets makes.
 */
function receiveWriterValues(topology: Topology, w: Workload, ctx: SpecContext) {
  const write = operatorRemoteWrite(topology, w, ctx, OPERATOR_SECRETS_DIR);
  return {
    prometheus: { thanosService: { enabled: false } },
    annotations: {},
    secrets: [write.secret.name],
    compaction: {},
    prometheusSpec: { remoteWrite: [write.spec] },
  };
}

/** The Secrets a receive-mode workload cluster needs: its remote write's TLS files, and no bucket credential. */
export function receiveWriterSecrets(topology: Topology, w: Workload, ctx: SpecContext): KubeObject[] {
  const { name, data } = operatorRemoteWrite(topology, w, ctx, OPERATOR_SECRETS_DIR).secret;
  return Object.keys(data).length > 0 ? [secret(name, data)] : [];
}

function objstoreHash(sidecar: Container): string {
  const file = sidecar.files.find((f) => f.name === OBJSTORE_FILE);
  if (!file) throw new Error(`the sidecar has no ${OBJSTORE_FILE}`);
  return createHash("sha256").update(file.content).digest("hex").slice(0, 16);
}

/**
 * The values for one workload cluster: the fleet's own, then fleet.yaml's kubePrometheusStackValues (fleet-wide, then
 * the cluster's) merged over them, then the registry mirror on every chart image. The topology loader has already
 * refused user values that touch what the fleet sets.
 */
export function kubePrometheusStackValues(
  topology: Topology,
  w: Workload,
  ctx: SpecContext,
  pods: { prometheus: PodSpec; alertmanager: PodSpec },
): Record<string, unknown> {
  const merged = mergeValues(
    mergeValues(fleetValues(topology, w, ctx, pods), topology.fleet.kubePrometheusStackValues),
    w.kubePrometheusStackValues,
  );
  const mirror = topology.fleet.images.registry;
  return mirror ? mirrorChartImages(merged, mirror) : merged;
}

/** The Grafana values: Grafana itself, or (`grafana: false`) only the datasource ConfigMap for a Grafana elsewhere. */
function grafanaValues(topology: Topology, w: Workload, ctx: SpecContext): Record<string, unknown> {
  const tls = grafanaDatasourceTls(ctx);
  const datasources = [
    {
      name: "Thanos",
      uid: GRAFANA_DATASOURCE_UID,
      type: "prometheus",
      access: "proxy",
      // mgmt's query-frontend as the other clusters reach it: its node address and NodePort.
      url: `${ctx.httpTls ? "https" : "http"}://${queryFrontendAddress(topology, ctx.addresses)}`,
      isDefault: false,
      editable: false,
      jsonData: { prometheusType: "Thanos", timeInterval: w.prometheus.scrapeInterval, ...tls?.jsonData },
      ...(tls ? { secureJsonData: tls.secureJsonData } : {}),
    },
  ];
  if (!topology.fleet.grafana) {
    // The chart still renders its datasource ConfigMap (GRAFANA_DATASOURCE_CONFIGMAP), labelled grafana_datasource: "1"
    // as Grafana's sidecar looks for, so that a Grafana of the user's own picks the Thanos datasource up.
    return { enabled: false, forceDeployDatasources: true, additionalDataSources: datasources };
  }
  return {
    enabled: true,
    admin: { existingSecret: GRAFANA_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
    service: { type: w.serviceType, nodePort: grafanaNodePort(w) },
    resources: resourcesFor(GRAFANA_SIZING, topology.fleet.profile),
    additionalDataSources: datasources,
    ...(tls ? { extraSecretMounts: [tls.mount] } : {}),
  };
}

/** Grafana's way to read a file when it provisions a datasource: the file's content, never in the values. */
export function grafanaFileRef(path: string): string {
  return `$__file{${path}}`;
}

/**
 * With `tls.http`, the Thanos datasource reaches query-frontend over HTTPS, verifying it against the fleet CA and
 * presenting the fleet's client certificate. Its secure fields name files (`$__file{…}`, expanded by Grafana when it
 * provisions the datasource) in the HTTP TLS Secret, which Grafana mounts: no certificate or key is in the values or
 * the datasource ConfigMap. A Grafana of the user's own (`grafana: false`) mounts the same Secret at HTTP_TLS_MOUNT.
 */
function grafanaDatasourceTls(ctx: SpecContext) {
  const tls = ctx.httpTls;
  if (!tls) return undefined;
  return {
    // No serverName: query-frontend's own certificate names the node address Grafana dials.
    jsonData: {
      tlsAuth: true,
      tlsAuthWithCACert: true,
      ...(tls.serverName ? { serverName: tls.serverName } : {}),
    },
    secureJsonData: {
      tlsCACert: grafanaFileRef(`${HTTP_TLS_MOUNT}/${HTTP_TLS_FILES.ca}`),
      tlsClientCert: grafanaFileRef(`${HTTP_TLS_MOUNT}/${HTTP_TLS_FILES.clientCert}`),
      tlsClientKey: grafanaFileRef(`${HTTP_TLS_MOUNT}/${HTTP_TLS_FILES.clientKey}`),
    },
    mount: { name: HTTP_TLS_SECRET, secretName: HTTP_TLS_SECRET, mountPath: HTTP_TLS_MOUNT, readOnly: true },
  };
}

/**
 * The fleet's own values for one workload cluster. Credentials never appear here: the objstore config and Grafana's admin
 * password come from Secrets by reference (values end up in the Helm release Secret, readable by every chart admin).
 */
function fleetValues(
  topology: Topology,
  w: Workload,
  ctx: SpecContext,
  pods: { prometheus: PodSpec; alertmanager: PodSpec },
): Record<string, unknown> {
  const serviceType = w.serviceType;
  const prometheus = container(pods.prometheus, "prometheus");
  const alertmanager = container(pods.alertmanager, "alertmanager");
  const prom = imageParts(prometheus.image);
  const scrapeWithTls = kubeScrapeTls(ctx);
  const scrape = [
    ...kubePeerScrapeJobs(w, NAMESPACE, scrapeWithTls),
    ...alertmanagerScrapeJob(ctx),
    ...fleetScrapeJobs(topology, ctx.addresses, scrapeWithTls, ctx.s3Tls),
  ];
  if (pods.prometheus.name !== PROMETHEUS_WORKLOAD) {
    throw new Error(
      `the chart names Prometheus ${PROMETHEUS_WORKLOAD}, the spec says ${pods.prometheus.name}`,
    );
  }
  const http = httpTlsValues(ctx);
  const writer =
    w.mode === "receive"
      ? receiveWriterValues(topology, w, ctx)
      : sidecarValues(ctx, pods.prometheus, http, topology.fleet.tls.issuer !== undefined);
  const secrets = [...writer.secrets, ...(http?.prometheusSpec.secrets ?? [])];
  const annotations = writer.annotations;
  return {
    // Pins the object names the per-replica Services and PROMETHEUS_WORKLOAD rely on, whatever the release is called.
    fullnameOverride: RELEASE,
    crds: { enabled: true },
    prometheusOperator: {
      thanosImage: imageParts(thanosImage(topology)),
    },
    prometheus: {
      ...writer.prometheus,
      prometheusSpec: {
        replicas: w.prometheus.replicas,
        ...(Object.keys(annotations).length > 0 ? { podMetadata: { annotations } } : {}),
        externalLabels: w.labels,
        // The operator adds this label with the pod name as value; query deduplicates on it.
        replicaExternalLabelName: "prometheus_replica",
        // Otherwise the operator adds prometheus="monitoring/kube-prometheus-stack-prometheus", the same in every
        // cluster: no use to query, and a label set other than the one fleet.yaml gives (and the local runtime runs).
        prometheusExternalLabelNameClear: true,
        ...writer.compaction,
        retention: w.prometheus.retention,
        scrapeInterval: w.prometheus.scrapeInterval,
        evaluationInterval: w.prometheus.scrapeInterval,
        image: prom,
        version: prom.tag,
        resources: prometheus.resources,
        additionalScrapeConfigs: scrape,
        ...(secrets.length > 0 ? { secrets } : {}),
        ...writer.prometheusSpec,
      },
    },
    alertmanager: {
      enabled: true,
      service: { type: serviceType, nodePort: alertmanagerNodePort(topology, w.name) },
      ...(http ? { serviceMonitor: http.alertmanager.serviceMonitor } : {}),
      alertmanagerSpec: {
        image: imageParts(alertmanager.image),
        resources: alertmanager.resources,
        ...http?.alertmanager.alertmanagerSpec,
      },
    },
    grafana: grafanaValues(topology, w, ctx),
  };
}
