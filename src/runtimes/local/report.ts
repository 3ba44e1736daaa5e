// What the running local fleet reports: every target's URL (for verify and `status --json`) and the URL table `up` prints.

import { MINIO_WORKLOAD } from "../../components/minio.ts";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { PROMETHEUS_WORKLOAD } from "../../components/prometheus.ts";
import { SEAWEEDFS_WORKLOAD } from "../../components/seaweedfs.ts";
import { GRPC_PORT, WORKLOAD } from "../../components/thanos.ts";
import type { FleetEndpoints, Target } from "../../endpoints.ts";
import type { Topology } from "../../topology/topology.ts";
import type { LocalPlan, ProcessPlan } from "./processes.ts";
import type { UrlRow } from "./state.ts";

/** The gRPC address the query replicas dial for a StoreAPI server, as the component specs wire it. */
function grpcAddress(topology: Topology, plan: LocalPlan, p: ProcessPlan): string | undefined {
  const { addresses } = plan.network;
  if (p.component === "sidecar") {
    const w = topology.workloads.find((x) => x.name === p.cluster);
    const i = w?.replicaNames.indexOf(p.pod) ?? -1;
    if (!w || i < 0) throw new Error(`sidecar ${p.id} is not a replica of a workload cluster`);
    return addresses.exposed(w.name, w.nodePorts.sidecarGrpc + i);
  }
  if (p.component === "store") return addresses.service(p.cluster, WORKLOAD.store, GRPC_PORT);
  if (p.component === "rule") return `${p.ip}:${GRPC_PORT}`;
  return undefined;
}

export function fleetEndpoints(topology: Topology, plan: LocalPlan): FleetEndpoints {
  const targets: Target[] = [];
  for (const p of plan.processes) {
    if (p.component === "load-balancer") continue;
    const http = p.ports.find((port) => port.protocol === "http");
    if (!http) continue;
    const grpc = grpcAddress(topology, plan, p);
    targets.push({
      cluster: p.cluster,
      component: p.component,
      pod: p.pod,
      url: `http://${p.ip}:${http.port}`,
      ...(grpc ? { grpc } : {}),
    });
  }
  const mgmt = topology.observer;
  const store = plan.objectStore;
  return {
    runtime: "local",
    targets,
    blockDuration: plan.options.blockDuration,
    bucketSyncInterval: plan.options.bucketSyncInterval,
    queryFrontend: `http://${plan.network.addresses.exposed(mgmt.name, mgmt.nodePorts.queryFrontend)}`,
    objectStore: {
      url: `${store.insecure ? "http" : "https"}://${store.endpoint}`,
      bucket: store.bucket,
      accessKey: store.accessKey,
      secretKey: store.secretKey,
      ...(store.region ? { region: store.region } : {}),
      ...(topology.storage ? { scopeCheckBucket: SCOPE_CHECK_BUCKET } : {}),
    },
  };
}

const SERVICE_TITLES: Record<string, string> = {
  [WORKLOAD.queryFrontend]: "query-frontend",
  [WORKLOAD.query]: "query UI",
  [WORKLOAD.bucketWeb]: "bucket web",
  [WORKLOAD.alertmanager]: "Alertmanager",
  [MINIO_WORKLOAD]: "MinIO",
  [SEAWEEDFS_WORKLOAD]: "SeaweedFS",
};

/** The table `up` ends with: every NodePort a person opens in a browser (sidecar StoreAPIs are for query only). */
export function urlTable(topology: Topology, plan: LocalPlan): UrlRow[] {
  const rows: UrlRow[] = [];
  for (const svc of plan.fleet.services) {
    if (svc.name.startsWith("thanos-sidecar-")) continue;
    for (const port of svc.ports) {
      if (port.nodePort === undefined) continue;
      let what = SERVICE_TITLES[svc.name] ?? svc.name;
      if (svc.selector.workload === PROMETHEUS_WORKLOAD)
        what = `Prometheus ${svc.name.replace(/^prometheus-/, "replica ")}`;
      if (svc.name === MINIO_WORKLOAD) what = port.name === "api" ? "MinIO API (S3)" : "MinIO console";
      if (svc.name === SEAWEEDFS_WORKLOAD)
        what = port.name === "api" ? "SeaweedFS API (S3)" : "SeaweedFS metrics";
      rows.push({
        what,
        cluster: svc.cluster,
        url: `http://${plan.network.addresses.exposed(svc.cluster, port.nodePort)}`,
      });
    }
  }
  const order = (r: UrlRow) => {
    const i = Object.values(SERVICE_TITLES).findIndex((t) => r.what.startsWith(t));
    const cluster = topology.fleet.clusters.findIndex((c) => c.name === r.cluster);
    return (r.cluster === topology.observer.name ? 0 : 1000 + cluster * 100) + (i < 0 ? 50 : i);
  };
  return rows.sort((a, b) => order(a) - order(b));
}
