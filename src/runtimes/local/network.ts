// The local runtime's address plan: a loopback IP per pod, per Service and per cluster "node", like a pod network.
import type { Addresses } from "../../components/context.ts";
import type { FleetSpec } from "../../components/fleet.ts";
import { podName, podNames } from "../../components/types.ts";
import type { Topology } from "../../topology/topology.ts";

export const DEFAULT_SUBNET = "127.77";
export const SUBNET_ENV = "THANOS_FLEET_LOCAL_SUBNET";

/** First host octet of pod IPs (`<subnet>.<cluster>.<10+k>`) and Service IPs (`<subnet>.<cluster>.<200+s>`). */
const POD_BASE = 10;
const SERVICE_BASE = 200;
const NODE_HOST = 1;

export interface ClusterNet {
  name: string;
  index: number;
  /** Where the cluster's NodePorts listen; the only address other clusters use. */
  node: string;
  pods: Map<string, string>;
  services: Map<string, { ip?: string; headless: boolean }>;
}

export interface Network {
  subnet: string;
  clusters: Map<string, ClusterNet>;
  addresses: Addresses;
  podIp(cluster: string, pod: string): string;
  nodeIp(cluster: string): string;
  serviceIp(cluster: string, service: string): string;
}

/** Checks a subnet such as `127.77`: two octets inside 127.0.0.0/8, so every address stays on loopback. */
export function parseSubnet(value: string, source = SUBNET_ENV): string {
  const m = /^127\.([0-9]{1,3})$/.exec(value.trim());
  const second = m ? Number(m[1]) : Number.NaN;
  if (!m || second > 255) {
    throw new Error(
      `${source}=${JSON.stringify(value)} is not a loopback subnet: give two octets inside 127.0.0.0/8, such as 127.77`,
    );
  }
  return `127.${second}`;
}

/**
 * Assigns addresses from the fleet's shape (its pods and Services, whatever addresses it was built with):
 * cluster c is `<subnet>.<c>.*` in the order of fleet.yaml, pod k of the cluster is `.10+k`, Service s is `.200+s`.
 */
export function planNetwork(topology: Topology, shape: FleetSpec, subnet: string): Network {
  const clusters = new Map<string, ClusterNet>();
  topology.fleet.clusters.forEach((c, index) => {
    if (index > 255)
      throw new Error(`the local runtime supports at most 256 clusters, ${c.name} is number ${index + 1}`);
    const base = `${subnet}.${index}`;
    clusters.set(c.name, {
      name: c.name,
      index,
      node: `${base}.${NODE_HOST}`,
      pods: new Map(),
      services: new Map(),
    });
  });
  const clusterOf = (name: string, what: string): ClusterNet => {
    const c = clusters.get(name);
    if (!c) throw new Error(`${what} belongs to cluster ${name}, which is not in ${topology.source}`);
    return c;
  };
  for (const pod of shape.pods) {
    const c = clusterOf(pod.cluster, `pod ${pod.name}`);
    for (const name of podNames(pod)) {
      const host = POD_BASE + c.pods.size;
      if (host >= SERVICE_BASE) {
        throw new Error(
          `cluster ${c.name} has more than ${SERVICE_BASE - POD_BASE} pods; the local runtime cannot address them`,
        );
      }
      c.pods.set(name, `${subnet}.${c.index}.${host}`);
    }
  }
  for (const svc of shape.services) {
    const c = clusterOf(svc.cluster, `Service ${svc.name}`);
    const host = SERVICE_BASE + c.services.size;
    if (host > 254)
      throw new Error(`cluster ${c.name} has more than 55 Services; the local runtime cannot address them`);
    c.services.set(
      svc.name,
      svc.headless ? { headless: true } : { ip: `${subnet}.${c.index}.${host}`, headless: false },
    );
  }

  const podIp = (cluster: string, pod: string): string => {
    const ip = clusterOf(cluster, `pod ${pod}`).pods.get(pod);
    if (!ip) throw new Error(`no pod ${pod} in cluster ${cluster}`);
    return ip;
  };
  const serviceIp = (cluster: string, service: string): string => {
    const svc = clusterOf(cluster, `Service ${service}`).services.get(service);
    if (!svc) throw new Error(`no Service ${service} in cluster ${cluster}`);
    if (!svc.ip)
      throw new Error(`Service ${service} in cluster ${cluster} is headless: address its pods instead`);
    return svc.ip;
  };
  const nodeIp = (cluster: string): string => clusterOf(cluster, "a NodePort").node;
  return {
    subnet,
    clusters,
    podIp,
    nodeIp,
    serviceIp,
    addresses: {
      service: (cluster, service, port) => `${serviceIp(cluster, service)}:${port}`,
      pod: (cluster, workload, index, port) => `${podIp(cluster, podName(workload, index))}:${port}`,
      exposed: (cluster, nodePort) => `${nodeIp(cluster)}:${nodePort}`,
    },
  };
}
