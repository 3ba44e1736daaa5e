// The whole fleet as pods and Services, from the topology and what a runtime hands in.
import type { Credentials } from "../state/credentials.ts";
import type { Topology } from "../topology/topology.ts";
import { ALERTMANAGER_PORT, alertmanagerPod } from "./alertmanager.ts";
import type { Addresses, ObjectStoreAccess, SpecContext } from "./context.ts";
import { MINIO_API_PORT, MINIO_CONSOLE_PORT, MINIO_WORKLOAD, minioPod } from "./minio.ts";
import {
  DEMO_PORT,
  DEMO_WORKLOAD,
  demoPod,
  PROMETHEUS_PORT,
  PROMETHEUS_WORKLOAD,
  prometheusPod,
} from "./prometheus.ts";
import {
  SEAWEEDFS_MASTER_PORT,
  SEAWEEDFS_METRICS_PORT,
  SEAWEEDFS_S3_PORT,
  SEAWEEDFS_WORKLOAD,
  seaweedfsGrpcPorts,
  seaweedfsPod,
} from "./seaweedfs.ts";
import {
  bucketWebPod,
  compactPod,
  GRPC_PORT,
  HTTP_PORT,
  queryFrontendPod,
  queryPod,
  rulerPod,
  storePod,
  WORKLOAD,
} from "./thanos.ts";
import type { PodSpec, ServiceSpec } from "./types.ts";

export interface FleetSpec {
  pods: PodSpec[];
  services: ServiceSpec[];
}

/** The Service of replica i's sidecar alone, exposed on the workload cluster's node ports to the other clusters. */
export function sidecarServiceName(i: number): string {
  return `thanos-sidecar-${i}`;
}

/** Where every cluster reaches the bucket, with Thanos's own bucket-scoped key. */
export function objectStoreAccess(
  topology: Topology,
  creds: Credentials,
  addresses: Addresses,
): ObjectStoreAccess {
  const keys = { accessKey: creds.thanos.accessKey, secretKey: creds.thanos.secretKey };
  if (topology.objectStore) {
    const { endpoint, insecure, region } = topology.objectStore;
    return { endpoint, insecure, region, bucket: topology.fleet.bucket, ...keys };
  }
  const storage = topology.storage;
  if (!storage) throw new Error("the topology has neither a storage cluster nor an objectStore");
  return {
    endpoint: addresses.exposed(storage.name, storage.nodePorts.api),
    insecure: true,
    bucket: topology.fleet.bucket,
    ...keys,
  };
}

export function buildFleet(topology: Topology, ctx: SpecContext, creds: Credentials): FleetSpec {
  const pods: PodSpec[] = [];
  const services: ServiceSpec[] = [];
  const mgmt = topology.observer;

  if (topology.storage?.server === "seaweedfs") {
    const s = topology.storage;
    const admin = { accessKey: creds.minioRoot.user, secretKey: creds.minioRoot.password };
    pods.push(seaweedfsPod(topology, ctx, admin, creds.thanos));
    const masterGrpc = seaweedfsGrpcPorts(ctx.seaweedfsGrpcBase).master;
    services.push({
      cluster: s.name,
      name: SEAWEEDFS_WORKLOAD,
      selector: { workload: SEAWEEDFS_WORKLOAD },
      ports: [
        { name: "api", port: SEAWEEDFS_S3_PORT, targetPort: SEAWEEDFS_S3_PORT, nodePort: s.nodePorts.api },
        {
          name: "metrics",
          port: SEAWEEDFS_METRICS_PORT,
          targetPort: SEAWEEDFS_METRICS_PORT,
          nodePort: s.nodePorts.console,
        },
        // In the cluster only: `weed shell` (the bucket setup Job) dials the master's gRPC.
        { name: "master", port: SEAWEEDFS_MASTER_PORT, targetPort: SEAWEEDFS_MASTER_PORT },
        { name: "master-grpc", port: masterGrpc, targetPort: masterGrpc },
      ],
    });
  } else if (topology.storage) {
    const s = topology.storage;
    pods.push(minioPod(topology, ctx, creds.minioRoot));
    services.push({
      cluster: s.name,
      name: MINIO_WORKLOAD,
      selector: { workload: MINIO_WORKLOAD },
      ports: [
        { name: "api", port: MINIO_API_PORT, targetPort: MINIO_API_PORT, nodePort: s.nodePorts.api },
        {
          name: "console",
          port: MINIO_CONSOLE_PORT,
          targetPort: MINIO_CONSOLE_PORT,
          nodePort: s.nodePorts.console,
        },
      ],
    });
  }

  for (const w of topology.workloads) {
    pods.push(prometheusPod(topology, w, ctx), alertmanagerPod(topology, w.name, ctx));
    w.replicaNames.forEach((pod, i) => {
      services.push(
        {
          cluster: w.name,
          name: sidecarServiceName(i),
          selector: { workload: PROMETHEUS_WORKLOAD, pod },
          ports: [
            { name: "grpc", port: GRPC_PORT, targetPort: GRPC_PORT, nodePort: w.nodePorts.sidecarGrpc + i },
            { name: "http", port: HTTP_PORT, targetPort: HTTP_PORT, nodePort: w.nodePorts.sidecarHttp + i },
          ],
        },
        {
          cluster: w.name,
          name: `prometheus-${i}`,
          selector: { workload: PROMETHEUS_WORKLOAD, pod },
          ports: [
            {
              name: "web",
              port: PROMETHEUS_PORT,
              targetPort: PROMETHEUS_PORT,
              nodePort: w.nodePorts.prometheus + i,
            },
          ],
          chart: "kube-prometheus-stack",
        },
      );
    });
    services.push({
      cluster: w.name,
      name: "alertmanager",
      selector: { workload: "alertmanager" },
      ports: [
        {
          name: "http",
          port: ALERTMANAGER_PORT,
          targetPort: ALERTMANAGER_PORT,
          nodePort: w.nodePorts.alertmanager,
        },
      ],
      chart: "kube-prometheus-stack",
    });
    if (ctx.demoScript) {
      pods.push(demoPod(w, ctx));
      services.push({
        cluster: w.name,
        name: DEMO_WORKLOAD,
        selector: { workload: DEMO_WORKLOAD },
        ports: [{ name: "http", port: DEMO_PORT, targetPort: DEMO_PORT }],
      });
    }
  }

  pods.push(
    storePod(topology, ctx),
    rulerPod(topology, ctx),
    queryPod(topology, ctx),
    queryFrontendPod(topology, ctx),
    compactPod(topology, ctx),
    bucketWebPod(topology, ctx),
    alertmanagerPod(topology, mgmt.name, ctx),
  );
  const grpcHttp = (grpc?: number, http?: number) => [
    { name: "grpc", port: GRPC_PORT, targetPort: GRPC_PORT, nodePort: grpc },
    { name: "http", port: HTTP_PORT, targetPort: HTTP_PORT, nodePort: http },
  ];
  const httpOnly = (nodePort?: number) => [
    { name: "http", port: HTTP_PORT, targetPort: HTTP_PORT, nodePort },
  ];
  const svc = (name: string, ports: ServiceSpec["ports"], headless = false): ServiceSpec => ({
    cluster: mgmt.name,
    name,
    selector: { workload: name },
    ports: ports.map((p) =>
      p.nodePort === undefined ? { name: p.name, port: p.port, targetPort: p.targetPort } : p,
    ),
    ...(headless ? { headless } : {}),
  });
  services.push(
    svc(WORKLOAD.store, grpcHttp()),
    svc(WORKLOAD.rule, grpcHttp(), true),
    svc(WORKLOAD.query, grpcHttp(undefined, mgmt.nodePorts.query)),
    svc(WORKLOAD.queryFrontend, httpOnly(mgmt.nodePorts.queryFrontend)),
    svc(WORKLOAD.compact, httpOnly()),
    svc(WORKLOAD.bucketWeb, httpOnly(mgmt.nodePorts.bucketWeb)),
    svc(WORKLOAD.alertmanager, [
      {
        name: "http",
        port: ALERTMANAGER_PORT,
        targetPort: ALERTMANAGER_PORT,
        nodePort: mgmt.nodePorts.alertmanager,
      },
    ]),
  );
  return { pods, services };
}
