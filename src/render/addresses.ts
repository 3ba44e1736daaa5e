// How Kubernetes clusters of the fleet reach each other: in-cluster DNS names, and node addresses discovered after `up`.
import { join } from "node:path";
import { z } from "zod";
import { type Addresses, NAMESPACE, type SpecContext } from "../components/context.ts";
import { objectStoreAccess } from "../components/fleet.ts";
import { podName } from "../components/types.ts";
import type { Credentials } from "../state/credentials.ts";
import { readJsonFile, writeJsonFile } from "../state/json-file.ts";
import type { Topology } from "../topology/topology.ts";

export const ADDRESSES_FILE = "addresses.json";

const DiscoveredSchema = z.strictObject({
  /** One node InternalIP per cluster: every node serves every NodePort, and one address per endpoint avoids duplicates. */
  nodeIP: z.record(z.string(), z.string().min(1)),
  /** serviceType LoadBalancer: the "host:port" each exposed NodePort is reached at, by cluster, then by NodePort. */
  loadBalancer: z.record(z.string(), z.record(z.string(), z.string().min(1))).optional(),
});
export type DiscoveredAddresses = z.infer<typeof DiscoveredSchema>;

const CLUSTER_SUFFIX = "svc.cluster.local";

/** The shell variable a rendered file uses for a node address not discovered yet, e.g. NODE_IP_BIZ1. */
export function nodeIPVariable(cluster: string): string {
  return `NODE_IP_${cluster.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** The shell variable for a LoadBalancer address ("host:port") not discovered yet, e.g. LB_BIZ1_31000. */
export function loadBalancerVariable(cluster: string, nodePort: number): string {
  return `LB_${cluster.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${nodePort}`;
}

/** A shell-style placeholder (`${NAME}`), filled with envsubst; Kubernetes leaves it alone (it expands only `$(NAME)`). */
export function placeholder(variable: string): string {
  return `\${${variable}}`;
}

export function kubeAddresses(topology: Topology, discovered?: DiscoveredAddresses): Addresses {
  const serviceType = new Map(topology.fleet.clusters.map((c) => [c.name, c.serviceType]));
  return {
    service: (_cluster, service, port) => `${service}.${NAMESPACE}.${CLUSTER_SUFFIX}:${port}`,
    // The pod's DNS name under the headless Service named like its StatefulSet.
    pod: (_cluster, workload, index, port) =>
      `${podName(workload, index)}.${workload}.${NAMESPACE}.${CLUSTER_SUFFIX}:${port}`,
    exposed: (cluster, nodePort) => {
      if (!serviceType.has(cluster)) throw new Error(`no cluster named '${cluster}' in ${topology.source}`);
      if (serviceType.get(cluster) === "LoadBalancer") {
        return (
          discovered?.loadBalancer?.[cluster]?.[String(nodePort)] ??
          placeholder(loadBalancerVariable(cluster, nodePort))
        );
      }
      const ip = discovered?.nodeIP[cluster];
      return `${ip ?? placeholder(nodeIPVariable(cluster))}:${nodePort}`;
    },
  };
}

/** Every address variable a render without discovery leaves open, with the command that fills it. */
export interface OpenAddress {
  cluster: string;
  variable: string;
  /** A shell command printing the value. */
  command: string;
}

export function kubeContext(topology: Topology, cluster: string): string {
  const c = topology.fleet.clusters.find((x) => x.name === cluster);
  if (!c) throw new Error(`no cluster named '${cluster}' in ${topology.source}`);
  return c.context ?? `kind-${c.name}`;
}

export const NODE_IP_JSONPATH = `{.items[0].status.addresses[?(@.type=="InternalIP")].address}`;

/** The variables still open in a render with these discovered addresses (none once `up` has discovered them all). */
export function openAddresses(
  topology: Topology,
  discovered: DiscoveredAddresses | undefined,
  loadBalancerPorts: (cluster: string) => { nodePort: number; service: string; port: number }[],
): OpenAddress[] {
  const out: OpenAddress[] = [];
  for (const c of topology.fleet.clusters) {
    const ctx = kubeContext(topology, c.name);
    if (c.serviceType === "LoadBalancer") {
      for (const p of loadBalancerPorts(c.name)) {
        if (discovered?.loadBalancer?.[c.name]?.[String(p.nodePort)]) continue;
        out.push({
          cluster: c.name,
          variable: loadBalancerVariable(c.name, p.nodePort),
          command: `echo "$(kubectl --context ${ctx} -n ${NAMESPACE} get service ${p.service} -o jsonpath='{.status.loadBalancer.ingress[0].ip}'):${p.port}"`,
        });
      }
    } else if (!discovered?.nodeIP[c.name]) {
      out.push({
        cluster: c.name,
        variable: nodeIPVariable(c.name),
        command: `kubectl --context ${ctx} get nodes -o jsonpath='${NODE_IP_JSONPATH}'`,
      });
    }
  }
  return out;
}

/** The SpecContext the Kubernetes runtime hands the component specs. */
export function kubeSpecContext(topology: Topology, addresses: Addresses, creds: Credentials): SpecContext {
  return {
    listenHost: "0.0.0.0",
    configDir: (_workload, container) => `/etc/thanos-fleet/${container}`,
    dataDir: (_workload, container) => `/var/thanos/${container}`,
    addresses,
    objectStore: objectStoreAccess(topology, creds, addresses),
    blockDuration: topology.fleet.blocks.duration ?? "2h",
    bucketSyncInterval: topology.fleet.blocks.syncInterval ?? "3m",
    objstoreCaFile: `${S3_CA_MOUNT}/${S3_CA_KEY}`,
    operatorRunsPrometheus: true,
  };
}

/** The fleet CA in every cluster that runs Thanos, for objstore.yml (a Secret applied with objstore.yml's). */
export const S3_CA_SECRET = "thanos-fleet-s3-ca";
export const S3_CA_KEY = "ca.crt";
export const S3_CA_MOUNT = "/etc/thanos-fleet/s3-ca";

/** Addresses the Kubernetes runtime discovered after creating the clusters; undefined before the first `up`. */
export function readDiscoveredAddresses(stateDir: string): Promise<DiscoveredAddresses | undefined> {
  const file = join(stateDir, ADDRESSES_FILE);
  return readJsonFile(file, {
    validate: (value) => DiscoveredSchema.parse(value),
    unreadable: `discovered addresses in ${file} cannot be read; check its permissions`,
    damaged: `discovered addresses in ${file} are not valid; delete the file and run 'thanos-fleet up' to discover them again`,
  });
}

export async function writeDiscoveredAddresses(
  stateDir: string,
  addresses: DiscoveredAddresses,
): Promise<void> {
  await writeJsonFile(join(stateDir, ADDRESSES_FILE), DiscoveredSchema.parse(addresses));
}
