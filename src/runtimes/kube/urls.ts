// Where a person on this machine opens each UI: kind's host ports on 127.0.0.1, else the node or load-balancer address.

import { join } from "node:path";
import { exposedHttpPorts, openings } from "../../components/fleet.ts";
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import type { RenderedCluster, RenderedFleet } from "../../render/types.ts";
import { CREDENTIALS_FILE } from "../../state/credentials.ts";
import type { Topology } from "../../topology/topology.ts";

export interface HostUrl {
  cluster: string;
  /** Its name, e.g. `query-frontend`, `grafana`, `minio-console`. */
  name: string;
  /** What it is, in words. */
  title: string;
  url: string;
  /** A page a person opens (Opening.ui). */
  ui: boolean;
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

/** Every UI of the fleet a person opens on Kubernetes, in the components' order (Grafana only when it runs). */
export function hostUrls(
  topology: Topology,
  fleet: RenderedFleet,
  discovered?: DiscoveredAddresses,
): HostUrl[] {
  const { clusters } = fleet;
  // With tls.http every HTTP NodePort of the fleet's servers serves HTTPS (the storage cluster's have their own flag).
  const tlsPorts = new Set(
    topology.fleet.tls.http ? exposedHttpPorts(fleet.spec).map((e) => `${e.cluster}/${e.nodePort}`) : [],
  );
  return openings(topology, "kubernetes").flatMap((o) => {
    if (o.reserved) return [];
    const rc = clusters.find((c) => c.cluster === o.cluster);
    const found = rc && exposedUrl(rc, o.name, o.nodePort, discovered);
    const https = o.https || tlsPorts.has(`${o.cluster}/${o.nodePort}`);
    const url = found && https ? found.replace(/^http:/, "https:") : found;
    return url ? [{ cluster: o.cluster, name: o.name, title: o.title, url, ui: o.ui === true }] : [];
  });
}

/** The lines `up` ends with: what to open, and where the Grafana password is (never the password itself). */
export function summaryLines(
  topology: Topology,
  fleet: RenderedFleet,
  discovered: DiscoveredAddresses | undefined,
  stateDir: string,
): string[] {
  // The pages the component modules mark as UIs, not the S3 API nor each Prometheus replica.
  const urls = hostUrls(topology, fleet, discovered).filter((u) => u.ui);
  const pick = (name: string) => urls.filter((u) => u.name === name);
  const lines = ["", "The fleet is up. Open from this machine:"];
  for (const u of urls) {
    // The query UI says whose it is, as `up` has always printed it.
    const title = u.name === "query" ? `Thanos ${u.title}` : u.title;
    lines.push(`  ${`${title} (${u.cluster})`.padEnd(28)} ${u.url}`);
  }
  const minio = topology.storage?.server === "minio";
  if (pick("grafana").length > 0) {
    lines.push(`  Grafana login: grafana.user and grafana.password in ${join(stateDir, CREDENTIALS_FILE)}`);
  }
  if (minio && pick("minio-console").length > 0) {
    lines.push(`  MinIO console login: minioRoot in ${join(stateDir, CREDENTIALS_FILE)}`);
  }
  return lines;
}
