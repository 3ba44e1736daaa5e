import { createHash } from "node:crypto";
import { alertmanagerNodePort } from "../components/alertmanager.ts";
// kube-prometheus-stack values for a workload cluster: Prometheus HA with the sidecar, Grafana pointed at mgmt.
import { type GrpcTls, NAMESPACE, type SpecContext } from "../components/context.ts";
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
import type { Container, PodSpec } from "../components/types.ts";
import { fleetPath, type Topology, type Workload } from "../topology/topology.ts";
import { mergeValues } from "../topology/values.ts";
import { S3_CA_MOUNT, S3_CA_SECRET } from "./addresses.ts";
import { mirrorChartImages } from "./chart-images.ts";
import type { KubeObject } from "./types.ts";
import { OBJSTORE_SECRET, secret } from "./workloads.ts";

export const RELEASE = "kube-prometheus-stack";
export const CHART = "prometheus-community/kube-prometheus-stack";
export const CHART_REPO = "https://prometheus-community.github.io/helm-charts";
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

/** The sidecar's gRPC server certificate, key and client CA; the operator makes a volume `secret-<name>` of it. */
export const GRPC_TLS_SECRET = "thanos-grpc-tls";
const GRPC_TLS_MOUNT = "/etc/thanos-fleet/grpc-tls";

export function grpcTlsSecret(tls: GrpcTls): KubeObject {
  return secret(GRPC_TLS_SECRET, { "ca.crt": tls.ca, "tls.crt": tls.cert, "tls.key": tls.key });
}

/**
 * With `tls.grpc`: the Secret in the Prometheus pods, mounted into the sidecar, and the operator's TLS flags. With the
 * storage cluster's HTTPS: the fleet CA that objstore.yml names, mounted into the sidecar.
 */
function sidecarTls(ctx: SpecContext) {
  const s3 = ctx.s3Tls
    ? {
        prometheusSpec: { secrets: [S3_CA_SECRET] },
        mounts: [{ name: `secret-${S3_CA_SECRET}`, mountPath: S3_CA_MOUNT, readOnly: true }],
      }
    : { prometheusSpec: {}, mounts: [] };
  if (!ctx.grpcTls) {
    return {
      prometheusSpec: s3.prometheusSpec,
      thanos: s3.mounts.length > 0 ? { volumeMounts: s3.mounts } : {},
    };
  }
  return {
    prometheusSpec: { secrets: [GRPC_TLS_SECRET, ...(ctx.s3Tls ? [S3_CA_SECRET] : [])] },
    thanos: {
      volumeMounts: [
        { name: `secret-${GRPC_TLS_SECRET}`, mountPath: GRPC_TLS_MOUNT, readOnly: true },
        ...s3.mounts,
      ],
      // The operator turns these into --grpc-server-tls-cert/-key/-client-ca.
      grpcServerTlsConfig: {
        caFile: `${GRPC_TLS_MOUNT}/ca.crt`,
        certFile: `${GRPC_TLS_MOUNT}/tls.crt`,
        keyFile: `${GRPC_TLS_MOUNT}/tls.key`,
      },
    },
  };
}

/**
 * What a sidecar-mode cluster's Prometheus gets: the Thanos sidecar (image, block size, objstore.yml from its
 * Secret, TLS) and a pod annotation that rolls the pods when objstore.yml changes; Prometheus does not compact, the
 * sidecar uploads its blocks.
 */
function sidecarValues(ctx: SpecContext, prometheus: PodSpec) {
  const sidecar = container(prometheus, "thanos-sidecar");
  const tls = sidecarTls(ctx);
  return {
    prometheus: {
      // In-cluster discovery only (headless); other clusters reach each replica through its own NodePort Service.
      thanosService: { enabled: true },
    },
    podMetadata: {
      // The sidecar reads objstore.yml only at start: a changed bucket address must roll the Prometheus pods.
      podMetadata: { annotations: { [OBJSTORE_HASH]: objstoreHash(sidecar) } },
    },
    compaction: {
      // min = max block duration, as the local runtime runs it: the operator only applies thanos.blockSize with
      // compaction disabled (otherwise, with Prometheus 3 and a recent Thanos, it delays compaction and cuts 2h blocks).
      disableCompaction: true,
    },
    prometheusSpec: {
      ...tls.prometheusSpec,
      thanos: {
        image: sidecar.image,
        version: imageParts(sidecar.image).tag,
        // The operator sets Prometheus's min and max block duration from it; the fleet's `blocks.duration`.
        blockSize: ctx.blockDuration,
        objectStorageConfig: { existingSecret: { name: OBJSTORE_SECRET, key: OBJSTORE_FILE } },
        resources: sidecar.resources,
        ...tls.thanos,
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
    podMetadata: {},
    compaction: {},
    prometheusSpec: { secrets: [write.secret.name], remoteWrite: [write.spec] },
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
  const datasources = [
    {
      name: "Thanos",
      uid: GRAFANA_DATASOURCE_UID,
      type: "prometheus",
      access: "proxy",
      // mgmt's query-frontend as the other clusters reach it: its node address and NodePort.
      url: `http://${queryFrontendAddress(topology, ctx.addresses)}`,
      isDefault: false,
      editable: false,
      jsonData: { prometheusType: "Thanos", timeInterval: w.prometheus.scrapeInterval },
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
  const scrape = [
    ...kubePeerScrapeJobs(w, NAMESPACE),
    ...fleetScrapeJobs(topology, ctx.addresses, {}, ctx.s3Tls),
  ];
  if (pods.prometheus.name !== PROMETHEUS_WORKLOAD) {
    throw new Error(
      `the chart names Prometheus ${PROMETHEUS_WORKLOAD}, the spec says ${pods.prometheus.name}`,
    );
  }
  const writer =
    w.mode === "receive" ? receiveWriterValues(topology, w, ctx) : sidecarValues(ctx, pods.prometheus);
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
        ...writer.podMetadata,
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
        ...writer.prometheusSpec,
      },
    },
    alertmanager: {
      enabled: true,
      service: { type: serviceType, nodePort: alertmanagerNodePort(topology, w.name) },
      alertmanagerSpec: {
        image: imageParts(alertmanager.image),
        resources: alertmanager.resources,
      },
    },
    grafana: grafanaValues(topology, w, ctx),
  };
}
