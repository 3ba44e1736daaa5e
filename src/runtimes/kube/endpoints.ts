// What a fleet on Kubernetes reports to verify: every process's HTTP API reachable from this machine (kind host ports
// on 127.0.0.1 where a NodePort maps exactly that pod, the API server's pod proxy for the rest) and the gRPC
// addresses query dials.

import { ALERTMANAGER_WORKLOAD } from "../../components/alertmanager.ts";
import { NAMESPACE } from "../../components/context.ts";
import { exposedHttpPorts, type FleetSpec, openings, storeApiOf } from "../../components/fleet.ts";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { queryFrontendAddress } from "../../components/thanos/query-frontend.ts";
import { type PodSpec, podName, type ServiceSpec } from "../../components/types.ts";
import type { ExposedHttp, FleetEndpoints, GrafanaDatasourceConfigMap, Target } from "../../endpoints.ts";
import {
  type DiscoveredAddresses,
  kubeAddresses,
  kubeSpecContext,
  S3_CA_KEY,
  S3_CA_SECRET,
} from "../../render/addresses.ts";
import {
  chartAlertmanagerPodName,
  GRAFANA_DATASOURCE_CONFIGMAP,
  HTTP_TLS_MOUNT,
  HTTP_TLS_SECRET,
  RELEASE,
} from "../../render/helm.ts";
import type { RenderedCluster, RenderedFleet } from "../../render/types.ts";
import type { Credentials } from "../../state/credentials.ts";
import { type GrpcTls, type HttpClientFiles, type HttpTls, S3_SERVER_NAME } from "../../state/tls.ts";
import type { Topology } from "../../topology/topology.ts";
import type { KubeApi, ProxyTarget } from "./api.ts";
import { prometheusMadeAt } from "./operated.ts";
import type { EndpointProxy } from "./proxy.ts";
import { exposedUrl } from "./urls.ts";

/** The pod name Kubernetes gives replica `index` when it is predictable (StatefulSets, the chart's pods). */
export function statefulPodName(
  cluster: RenderedCluster,
  workload: string,
  index: number,
): string | undefined {
  const own = cluster.manifests.find(
    (o) => (o.kind === "StatefulSet" || o.kind === "Deployment") && o.metadata.name === workload,
  );
  if (own?.kind === "Deployment") return undefined;
  if (!own && cluster.role === "workload" && workload === ALERTMANAGER_WORKLOAD) {
    return chartAlertmanagerPodName(index);
  }
  return podName(workload, index);
}

interface LivePod {
  metadata?: { name?: string; deletionTimestamp?: unknown; labels?: Record<string, string> };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

/** Pods of a Deployment have random names: replica `index` is the index-th running pod by name. */
export async function resolvePod(
  api: KubeApi,
  cluster: RenderedCluster,
  workload: string,
  index: number,
): Promise<string> {
  const fixed = statefulPodName(cluster, workload, index);
  if (fixed) return fixed;
  const deploy = cluster.manifests.find((o) => o.kind === "Deployment" && o.metadata.name === workload);
  const labels = (deploy?.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)
    ?.selector?.matchLabels;
  const selector = Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const pods = (await api.list("v1", "Pod", { namespace: NAMESPACE, labelSelector: selector })) as LivePod[];
  const running = pods
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === "Running")
    .map((p) => p.metadata?.name ?? "")
    .sort();
  const name = running[index];
  if (!name) {
    throw new Error(
      `replica ${index} of Deployment ${workload} in context ${api.context} is not running (${running.length} running)`,
    );
  }
  return name;
}

function httpPort(pod: PodSpec, containerIndex: number): number {
  const c = pod.containers[containerIndex];
  const port =
    c?.ports.find((p) => p.name === c.readiness.port) ?? c?.ports.find((p) => p.protocol === "http");
  if (!port) throw new Error(`${pod.cluster}/${pod.name} container ${c?.name} has no HTTP port`);
  return port.port;
}

/** A host port that reaches exactly this pod's port: a Service of only this pod (or of a one-replica workload). */
function hostMapped(
  rc: RenderedCluster,
  services: ServiceSpec[],
  pod: PodSpec,
  podName: string,
  port: number,
): string | undefined {
  for (const s of services) {
    if (s.cluster !== pod.cluster || s.selector.workload !== pod.name) continue;
    if (s.selector.pod ? s.selector.pod !== podName : pod.replicas !== 1) continue;
    const p = s.ports.find((x) => x.targetPort === port && x.nodePort !== undefined);
    const host = p?.nodePort !== undefined ? rc.hostPorts.find((h) => h.nodePort === p.nodePort) : undefined;
    if (host) return `http://127.0.0.1:${host.hostPort}`;
  }
  return undefined;
}

/** The fleet CA as rendered for objstore.yml, when S3 to the storage cluster is HTTPS. */
function renderedS3Ca(fleet: RenderedFleet): string | undefined {
  for (const c of fleet.clusters) {
    for (const o of c.secrets) {
      const s = o as { kind?: string; metadata?: { name?: string }; stringData?: Record<string, string> };
      if (s.kind === "Secret" && s.metadata?.name === S3_CA_SECRET) return s.stringData?.[S3_CA_KEY];
    }
  }
  return undefined;
}

export interface EndpointsInput {
  topology: Topology;
  fleet: RenderedFleet;
  credentials: Credentials;
  discovered: DiscoveredAddresses;
  api: (context: string) => KubeApi;
  proxy: EndpointProxy;
  /** With `tls.http`: the fleet's HTTP TLS material (which ports serve HTTPS) and its client certificate's files. */
  httpTls?: { material: HttpTls; client: HttpClientFiles };
  /** With `tls.grpc`: the fleet's gRPC TLS material (receive's remote write serves it). */
  grpcTls?: GrpcTls;
}

export async function kubeEndpoints(input: EndpointsInput): Promise<FleetEndpoints> {
  const { topology, fleet, credentials, discovered, proxy } = input;
  const addresses = kubeAddresses(topology, discovered);
  const ctx = {
    ...kubeSpecContext(topology, addresses, credentials),
    ...(input.httpTls && topology.fleet.tls.http ? { httpTls: input.httpTls.material } : {}),
    ...(input.grpcTls && topology.fleet.tls.grpc ? { grpcTls: input.grpcTls } : {}),
  };
  const { spec } = fleet;
  const mgmt = topology.observer.name;
  const opened = openings(topology, "kubernetes");
  await proxy.start();
  const clusterOf = (name: string) => {
    const rc = fleet.clusters.find((c) => c.cluster === name);
    if (!rc) throw new Error(`cluster ${name} is not in the rendered fleet`);
    return rc;
  };

  const targets: Target[] = [];
  for (const pod of spec.pods) {
    const rc = clusterOf(pod.cluster);
    const api = input.api(rc.context);
    for (let i = 0; i < pod.replicas; i++) {
      const name = podName(pod.name, i);
      for (const [ci, c] of pod.containers.entries()) {
        const port = httpPort(pod, ci);
        const direct = hostMapped(rc, spec.services, pod, name, port);
        const target: () => Promise<ProxyTarget> = async () => ({
          resource: "pods",
          namespace: NAMESPACE,
          name: await resolvePod(api, rc, pod.name, i),
          port,
        });
        const id = `${pod.cluster}/${name}/${port}`;
        // A port that asks for the fleet's client certificate: its host port as HTTPS, else a port-forward (TLS end
        // to end); the API server's proxy would end the TLS without a certificate to present.
        const url = c.readiness.tls
          ? (direct?.replace(/^http:/, "https:") ?? (await proxy.forward(id, { api, target })))
          : (direct ?? proxy.add(id, { api, target }));
        const grpc = storeApiOf(topology, {
          cluster: pod.cluster,
          component: c.component,
          pod: name,
        })?.address(addresses);
        targets.push({
          cluster: pod.cluster,
          component: c.component,
          pod: statefulPodName(rc, pod.name, i) ?? name,
          url,
          ...(grpc ? { grpc } : {}),
        });
      }
    }
  }

  // Grafana and S3 authenticate their callers, which the API server's proxy does not pass on: node or host ports only.
  const grafana = opened.flatMap((o) => {
    if (o.name !== "grafana" || o.reserved) return [];
    const url = exposedUrl(clusterOf(o.cluster), o.name, o.nodePort, discovered);
    return url
      ? [{ cluster: o.cluster, url, user: credentials.grafana.user, password: credentials.grafana.password }]
      : [];
  });
  for (const g of grafana)
    targets.push({ cluster: g.cluster, component: "grafana", pod: `${RELEASE}-grafana`, url: g.url });

  const store = ctx.objectStore;
  let objectStoreUrl: string | undefined;
  const s3 = opened.find((o) => o.name === "minio-api");
  // The storage cluster's HTTPS: the fleet CA is in the ConfigMap rendered beside objstore.yml.
  const ca = topology.storage ? renderedS3Ca(fleet) : undefined;
  const doors: string[] = [];
  if (s3) {
    objectStoreUrl = exposedUrl(clusterOf(s3.cluster), s3.name, s3.nodePort, discovered);
    if (objectStoreUrl && ca) objectStoreUrl = objectStoreUrl.replace(/^http:/, "https:");
    // What the storage cluster exposes outside itself: its NodePorts (the rest is reachable only inside it).
    for (const o of opened.filter((x) => x.cluster === s3.cluster)) {
      const url = exposedUrl(clusterOf(o.cluster), o.name, o.nodePort, discovered);
      if (url) doors.push(new URL(url).host);
    }
  } else {
    objectStoreUrl = `${store.insecure ? "http" : "https"}://${store.endpoint}`;
  }
  if (!objectStoreUrl)
    throw new Error("the object store has no address reachable from here; run 'thanos-fleet up'");

  const qfe = targets.find((t) => t.cluster === mgmt && t.component === "query-frontend");
  if (!qfe) throw new Error(`no query-frontend in cluster ${mgmt}`);
  const exposedHttp = exposedHttpEndpoints(spec, clusterOf, discovered);
  const https = ctx.httpTls !== undefined;
  return {
    runtime: "kubernetes",
    targets,
    blockDuration: ctx.blockDuration,
    bucketSyncInterval: ctx.bucketSyncInterval,
    queryFrontend: qfe.url,
    objectStore: {
      url: objectStoreUrl,
      bucket: store.bucket,
      accessKey: store.accessKey,
      secretKey: store.secretKey,
      ...(store.region ? { region: store.region } : {}),
      ...(topology.storage ? { scopeCheckBucket: SCOPE_CHECK_BUCKET, doors } : {}),
      ...(ca ? { ca, serverName: S3_SERVER_NAME } : {}),
    },
    ...(https && input.httpTls ? { httpTls: input.httpTls.client } : {}),
    exposedHttp,
    grafana,
    ...(topology.fleet.grafana
      ? {}
      : { grafanaDatasources: await datasourceConfigMaps(input, addresses, https) }),
    clusterUpSince: await clusterUpSince(input),
  };
}

/**
 * Every HTTP port of the fleet on a NodePort (the component specs' exposedHttpPorts), as reached from here: a kind
 * host port, the load balancer's address or the node address; `https://` where it asks for the client certificate.
 */
function exposedHttpEndpoints(
  spec: FleetSpec,
  clusterOf: (name: string) => RenderedCluster,
  discovered: DiscoveredAddresses,
): ExposedHttp[] {
  return exposedHttpPorts(spec).flatMap((e) => {
    const url = exposedUrl(clusterOf(e.cluster), e.service, e.nodePort, discovered);
    if (!url) return [];
    return [
      {
        cluster: e.cluster,
        name: `${e.service}/${e.port}`,
        component: e.component,
        url: e.tls ? url.replace(/^http:/, "https:") : url,
        tls: e.tls,
        // Receive's remote write is asked as the port says, over its own TLS (the gRPC material).
        ...(e.request ? { request: e.request } : {}),
      },
    ];
  });
}

/**
 * Each workload cluster's Prometheus, when it was last made (prometheusMadeAt). A cluster where that cannot be read
 * (no operator's StatefulSet yet, the API unreachable) is left out: verify then counts every hole, and its other
 * checks name what is missing.
 */
async function clusterUpSince(input: EndpointsInput): Promise<Record<string, string>> {
  const { topology, fleet } = input;
  const entries = await Promise.all(
    topology.workloads.map(async (w) => {
      const rc = fleet.clusters.find((c) => c.cluster === w.name);
      if (!rc) return [];
      const made = await prometheusMadeAt(input.api(rc.context), NAMESPACE).catch(() => undefined);
      return made ? [[w.name, made] as const] : [];
    }),
  );
  return Object.fromEntries(entries.flat());
}

/** Without Grafana, the chart's datasource ConfigMap in each workload cluster stands for it: read it as it is. */
async function datasourceConfigMaps(
  input: EndpointsInput,
  addresses: ReturnType<typeof kubeAddresses>,
  https: boolean,
): Promise<GrafanaDatasourceConfigMap[]> {
  const { topology, fleet } = input;
  const expectedUrl = `${https ? "https" : "http"}://${queryFrontendAddress(topology, addresses)}`;
  return Promise.all(
    topology.workloads.map(async (w) => {
      const rc = fleet.clusters.find((c) => c.cluster === w.name);
      if (!rc) throw new Error(`cluster ${w.name} is not in the rendered fleet`);
      const cm = await input.api(rc.context).get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: NAMESPACE,
        name: GRAFANA_DATASOURCE_CONFIGMAP,
      });
      const data = (cm?.data ?? {}) as Record<string, string>;
      const files = https ? await mountedFiles(input.api(rc.context)) : undefined;
      return {
        cluster: w.name,
        configMap: `${NAMESPACE}/${GRAFANA_DATASOURCE_CONFIGMAP}`,
        expectedUrl,
        ...(files ? { files } : {}),
        ...(cm
          ? { found: { labels: cm.metadata.labels ?? {}, datasources: data["datasource.yaml"] ?? "" } }
          : {}),
      };
    }),
  );
}

/** The HTTP TLS Secret as a Grafana mounts it (HTTP_TLS_MOUNT): each key's content by its path; undefined if absent. */
async function mountedFiles(api: KubeApi): Promise<Record<string, string> | undefined> {
  const found = (await api.get({
    apiVersion: "v1",
    kind: "Secret",
    namespace: NAMESPACE,
    name: HTTP_TLS_SECRET,
  })) as { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
  if (!found) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(found.data ?? {}))
    out[`${HTTP_TLS_MOUNT}/${k}`] = Buffer.from(v, "base64").toString("utf8");
  for (const [k, v] of Object.entries(found.stringData ?? {})) out[`${HTTP_TLS_MOUNT}/${k}`] = v;
  return out;
}
