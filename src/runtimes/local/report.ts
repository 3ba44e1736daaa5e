// What the running local fleet reports: every target's URL (for verify and `status --json`) and the URL table `up` prints.

import { exposedHttpPorts, openings, storeApiOf } from "../../components/fleet.ts";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { queryFrontendAddress } from "../../components/thanos/query-frontend.ts";
import type { FleetEndpoints, Target } from "../../endpoints.ts";
import type { Topology } from "../../topology/topology.ts";
import { type LocalPlan, speaksHttps } from "./processes.ts";
import type { UrlRow } from "./state.ts";

export function fleetEndpoints(topology: Topology, plan: LocalPlan): FleetEndpoints {
  const targets: Target[] = [];
  for (const p of plan.processes) {
    if (p.component === "load-balancer") continue;
    const http = p.ports.find((port) => port.protocol === "http");
    if (!http) continue;
    // The gRPC address the query replicas dial, as the component specs wire it.
    const grpc = storeApiOf(topology, p)?.address(plan.network.addresses);
    const secure = speaksHttps(p.readiness);
    targets.push({
      cluster: p.cluster,
      component: p.component,
      pod: p.pod,
      url: `${secure ? "https" : "http"}://${p.ip}:${http.port}`,
      ...(grpc ? { grpc } : {}),
    });
  }
  const store = plan.objectStore;
  const tls = plan.httpTls;
  const exposedHttp = exposedHttpPorts(plan.fleet).map((e) => ({
    cluster: e.cluster,
    name: `${e.service}/${e.port}`,
    component: e.component,
    url: `${e.tls ? "https" : "http"}://${plan.network.addresses.exposed(e.cluster, e.nodePort)}`,
    tls: e.tls,
    ...(e.request ? { request: e.request } : {}),
  }));
  return {
    runtime: "local",
    targets,
    blockDuration: plan.options.blockDuration,
    bucketSyncInterval: plan.options.bucketSyncInterval,
    queryFrontend: `${tls ? "https" : "http"}://${queryFrontendAddress(topology, plan.network.addresses)}`,
    ...(tls ? { httpTls: tls } : {}),
    exposedHttp,
    objectStore: {
      url: `${store.insecure ? "http" : "https"}://${store.endpoint}`,
      bucket: store.bucket,
      accessKey: store.accessKey,
      secretKey: store.secretKey,
      ...(store.region ? { region: store.region } : {}),
      ...(plan.objectStoreTls ?? {}),
      ...(topology.storage ? { doors: storageDoors(topology.storage.name, plan) } : {}),
      ...(topology.storage ? { scopeCheckBucket: SCOPE_CHECK_BUCKET } : {}),
    },
  };
}

/** Every port of the storage cluster: each of its processes' ports on the pod address, and its NodePorts. */
function storageDoors(cluster: string, plan: LocalPlan): string[] {
  const doors = new Set<string>();
  for (const p of plan.processes) {
    if (p.cluster !== cluster || p.component === "load-balancer") continue;
    for (const port of p.ports) doors.add(`${p.ip}:${port.port}`);
  }
  for (const s of plan.fleet.services.filter((s) => s.cluster === cluster)) {
    for (const port of s.ports) {
      if (port.nodePort !== undefined) doors.add(`${plan.network.nodeIp(cluster)}:${port.nodePort}`);
    }
  }
  return [...doors];
}

/** The table `up` ends with: every port a person opens in a browser, mgmt's first, then each cluster's in fleet.yaml order. */
export function urlTable(topology: Topology, plan: LocalPlan): UrlRow[] {
  const order = (cluster: string) =>
    cluster === topology.observer.name ? -1 : topology.fleet.clusters.findIndex((c) => c.name === cluster);
  return openings(topology, "local")
    .map((o) => ({
      what: o.title,
      cluster: o.cluster,
      url: `${o.url?.scheme ?? (o.https ? "https" : exposedScheme(plan, o.cluster, o.nodePort))}://${plan.network.addresses.exposed(o.cluster, o.nodePort)}${o.url?.path ?? ""}`,
    }))
    .sort((a, b) => order(a.cluster) - order(b.cluster));
}

/** `https` for a NodePort that serves TLS (`tls.http`), else `http`. */
function exposedScheme(plan: LocalPlan, cluster: string, nodePort: number): "http" | "https" {
  const e = exposedHttpPorts(plan.fleet).find((x) => x.cluster === cluster && x.nodePort === nodePort);
  return e?.tls ? "https" : "http";
}
