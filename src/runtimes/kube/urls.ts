// Where a person on this machine opens each UI: kind's host ports on 127.0.0.1, else the node or load-balancer address.

import { join } from "node:path";
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import type { RenderedCluster } from "../../render/types.ts";
import { CREDENTIALS_FILE } from "../../state/credentials.ts";
import type { Topology } from "../../topology/topology.ts";

export interface HostUrl {
  cluster: string;
  /** What it is, e.g. `query-frontend`, `grafana`, `minio-console`. */
  name: string;
  url: string;
}

/**
 * The URL of an exposed NodePort as reachable from here: a kind host port (also on Docker Desktop, where node
 * addresses are not reachable from the host), the load balancer's address, or the node address.
 */
export function exposedUrl(
  rc: RenderedCluster,
  name: string,
  nodePort: number,
  discovered: DiscoveredAddresses | undefined,
): string | undefined {
  const host = rc.hostPorts.find((p) => p.nodePort === nodePort) ?? rc.hostPorts.find((p) => p.name === name);
  if (host) return `http://127.0.0.1:${host.hostPort}`;
  const lb = discovered?.loadBalancer?.[rc.cluster]?.[String(nodePort)];
  if (lb) return `http://${lb}`;
  const ip = discovered?.nodeIP[rc.cluster];
  return ip ? `http://${ip}:${nodePort}` : undefined;
}

/** Every UI of the fleet a person opens, in the order they matter. */
export function hostUrls(
  topology: Topology,
  clusters: RenderedCluster[],
  discovered?: DiscoveredAddresses,
): HostUrl[] {
  const out: HostUrl[] = [];
  const add = (cluster: string, name: string, nodePort: number) => {
    const rc = clusters.find((c) => c.cluster === cluster);
    const url = rc && exposedUrl(rc, name, nodePort, discovered);
    if (url) out.push({ cluster, name, url });
  };
  const mgmt = topology.observer;
  add(mgmt.name, "query-frontend", mgmt.nodePorts.queryFrontend);
  add(mgmt.name, "query", mgmt.nodePorts.query);
  add(mgmt.name, "bucket-web", mgmt.nodePorts.bucketWeb);
  add(mgmt.name, "alertmanager", mgmt.nodePorts.alertmanager);
  for (const w of topology.workloads) {
    if (topology.fleet.grafana) add(w.name, "grafana", w.nodePorts.grafana);
    for (let i = 0; i < w.prometheus.replicas; i++)
      add(w.name, `prometheus-${i}`, w.nodePorts.prometheus + i);
  }
  if (topology.storage) {
    add(topology.storage.name, "minio-api", topology.storage.nodePorts.api);
    add(topology.storage.name, "minio-console", topology.storage.nodePorts.console);
  }
  return out;
}

/** The lines `up` ends with: what to open, and where the Grafana password is (never the password itself). */
export function summaryLines(
  topology: Topology,
  clusters: RenderedCluster[],
  discovered: DiscoveredAddresses | undefined,
  stateDir: string,
): string[] {
  const urls = hostUrls(topology, clusters, discovered);
  const pick = (name: string) => urls.filter((u) => u.name === name);
  const lines = ["", "The fleet is up. Open from this machine:"];
  const row = (label: string, u: HostUrl) => lines.push(`  ${label.padEnd(28)} ${u.url}`);
  for (const u of pick("query-frontend")) row(`query-frontend (${u.cluster})`, u);
  for (const u of pick("query")) row(`Thanos query UI (${u.cluster})`, u);
  for (const u of pick("bucket-web")) row(`bucket web (${u.cluster})`, u);
  for (const u of pick("alertmanager")) row(`Alertmanager (${u.cluster})`, u);
  for (const u of pick("grafana")) row(`Grafana (${u.cluster})`, u);
  const minio = topology.storage?.server === "minio";
  for (const u of pick("minio-console"))
    row(minio ? `MinIO console (${u.cluster})` : `SeaweedFS metrics (${u.cluster})`, u);
  if (pick("grafana").length > 0) {
    lines.push(`  Grafana login: grafana.user and grafana.password in ${join(stateDir, CREDENTIALS_FILE)}`);
  }
  if (minio && pick("minio-console").length > 0) {
    lines.push(`  MinIO console login: minioRoot in ${join(stateDir, CREDENTIALS_FILE)}`);
  }
  return lines;
}
