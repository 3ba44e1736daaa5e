// The whole fleet as pods and Services, assembled from the component modules: the one list of what the fleet runs.
// Render, both runtimes and verify read what is assembled here and compute no wiring of their own.
import type { Credentials } from "../state/credentials.ts";
import type { Topology } from "../topology/topology.ts";
import { alertmanager, alertmanagerOpenings } from "./alertmanager.ts";
import { type SpecContext, shapeAddresses } from "./context.ts";
import { demo } from "./demo.ts";
import { grafanaOpenings } from "./grafana.ts";
import { minio } from "./minio.ts";
import { prometheus, prometheusOpenings } from "./prometheus.ts";
import { seaweedfs } from "./seaweedfs.ts";
import { objectStoreAccess, storageOpenings } from "./storage.ts";
import { bucketWeb, bucketWebOpenings } from "./thanos/bucket-web.ts";
import { compactor } from "./thanos/compact.ts";
import { query, queryOpenings } from "./thanos/query.ts";
import { queryFrontend, queryFrontendOpenings } from "./thanos/query-frontend.ts";
import { ingesterStoreApis, receive, receiveOpenings } from "./thanos/receive.ts";
import { ruler, rulerStoreApis } from "./thanos/rule.ts";
import { sidecarStoreApis } from "./thanos/sidecar.ts";
import { storeGateway, storeGatewayStoreApis } from "./thanos/store.ts";
import type {
  ComponentKind,
  ComponentSpec,
  ExposureRequest,
  Opening,
  PodSpec,
  RuntimeName,
  ServiceSpec,
  StoreApiServer,
} from "./types.ts";

export { objectStoreAccess };

export interface FleetSpec {
  pods: PodSpec[];
  services: ServiceSpec[];
}

/**
 * Every StoreAPI server of the fleet, in the order query is given them: each sidecar, the store gateway, each ruler,
 * each receive ingester.
 */
export function storeApiServers(topology: Topology): StoreApiServer[] {
  return [
    ...sidecarStoreApis(topology),
    ...storeGatewayStoreApis(topology),
    ...rulerStoreApis(topology),
    ...ingesterStoreApis(topology),
  ];
}

/** The gRPC address query dials for each StoreAPI server. */
export function queryEndpoints(topology: Topology, ctx: SpecContext): string[] {
  return storeApiServers(topology).map((s) => s.address(ctx.addresses));
}

/** The StoreAPI server a process of the fleet is, if it is one. */
export function storeApiOf(
  topology: Topology,
  process: { cluster: string; component: string; pod: string },
): StoreApiServer | undefined {
  return storeApiServers(topology).find(
    (s) => s.cluster === process.cluster && s.component === process.component && s.pod === process.pod,
  );
}

/**
 * Every port a person opens that `runtime` runs, mgmt first, then each workload cluster, then storage; each cluster's
 * in a fixed order (kind's host ports follow it).
 */
export function openings(topology: Topology, runtime: RuntimeName): Opening[] {
  const mgmt = topology.observer.name;
  return [
    ...queryFrontendOpenings(topology),
    ...queryOpenings(topology),
    ...bucketWebOpenings(topology),
    ...receiveOpenings(topology),
    ...alertmanagerOpenings(topology, mgmt),
    ...topology.workloads.flatMap((w) => [
      ...grafanaOpenings(topology, w),
      ...alertmanagerOpenings(topology, w.name),
      ...prometheusOpenings(topology, w),
    ]),
    ...storageOpenings(topology),
  ].filter((o) => o.runtimes.includes(runtime));
}

export function buildFleet(topology: Topology, ctx: SpecContext, creds: Credentials): FleetSpec {
  const parts: ComponentSpec[] = [];
  const mgmt = topology.observer.name;

  if (topology.storage?.server === "seaweedfs") {
    const admin = { accessKey: creds.minioRoot.user, secretKey: creds.minioRoot.password };
    parts.push(seaweedfs(topology, ctx, admin, creds.thanos));
  } else if (topology.storage) {
    parts.push(minio(topology, ctx, creds.minioRoot));
  }
  for (const w of topology.workloads) {
    parts.push(prometheus(topology, w, ctx), alertmanager(topology, w.name, ctx));
    if (ctx.demoScript) parts.push(demo(topology, w, ctx));
  }
  parts.push(
    storeGateway(topology, ctx),
    ruler(topology, ctx),
    query(topology, ctx, storeApiServers(topology)),
    queryFrontend(topology, ctx),
    compactor(topology, ctx),
    bucketWeb(topology, ctx),
    alertmanager(topology, mgmt, ctx),
    receive(topology, ctx),
  );
  return { pods: parts.flatMap((p) => p.pods), services: parts.flatMap((p) => p.services) };
}

/** An HTTP port of the fleet that leaves its cluster on a NodePort. */
export interface ExposedHttpPort {
  cluster: string;
  service: string;
  port: string;
  nodePort: number;
  component: ComponentKind;
  /** HTTPS that asks for the fleet's client certificate (`tls.http`, or the port's own TLS). */
  tls: boolean;
  /** How the port is asked, when not with GET /-/healthy under the web config. */
  request?: ExposureRequest;
}

/**
 * Every HTTP port of the fleet on a NodePort, as the component specs declare it, but the storage cluster's S3 API
 * and MinIO's console (the object store's business: the objstore and storage-doors checks).
 */
export function exposedHttpPorts(fleet: FleetSpec): ExposedHttpPort[] {
  const out: ExposedHttpPort[] = [];
  for (const svc of fleet.services) {
    const pod = fleet.pods.find((p) => p.cluster === svc.cluster && p.name === svc.selector.workload);
    for (const port of svc.ports) {
      if (port.nodePort === undefined || !pod) continue;
      const container = pod.containers.find((c) =>
        c.ports.some((p) => p.port === port.targetPort && p.protocol === "http"),
      );
      if (!container) continue;
      const served = container.ports.find((p) => p.port === port.targetPort);
      if (container.component === "object-store") {
        // Its S3 API and MinIO's console are the storage-doors check's. SeaweedFS's own metrics leave the cluster
        // only without `tls.http` (with it, the Prometheus in its pod serves them): an open port to report.
        if (served?.name !== "metrics") continue;
      } else if (served?.name !== container.readiness.port && !served?.exposure) {
        // The web config serves the port the probes use. A port with a TLS of its own (receive's remote write: mutual
        // TLS with the gRPC material) says how it is asked; one that says nothing is not counted.
        continue;
      }
      const own = served?.exposure;
      out.push({
        cluster: svc.cluster,
        service: svc.name,
        port: port.name,
        nodePort: port.nodePort,
        component: container.component,
        tls: own ? own.serverName !== undefined : container.readiness.tls === true,
        ...(own ? { request: own } : {}),
      });
    }
  }
  return out;
}

/** No credentials: the fleet's shape needs none. */
const NO_CREDENTIALS: Credentials = {
  minioRoot: { user: "", password: "" },
  thanos: { accessKey: "", secretKey: "" },
  grafana: { user: "", password: "" },
};

/** The fleet built with placeholder addresses and no credentials: which pods and Services exist, and their facts. */
export function fleetShape(topology: Topology): FleetSpec {
  const ctx: SpecContext = {
    listenHost: "0.0.0.0",
    configDir: (workload, container) => `/config/${workload}/${container}`,
    dataDir: (workload, container) => `/data/${workload}/${container}`,
    addresses: shapeAddresses,
    objectStore: objectStoreAccess(topology, NO_CREDENTIALS, shapeAddresses),
    blockDuration: "2h",
    bucketSyncInterval: "3m",
  };
  return buildFleet(topology, ctx, NO_CREDENTIALS);
}

/** Workloads whose pods Kubernetes names at random (Deployments): the fleet's own pods that are not stateful. */
export function deploymentWorkloads(topology: Topology): string[] {
  return fleetShape(topology)
    .pods.filter((p) => !p.stateful && !p.chart)
    .map((p) => p.name);
}
