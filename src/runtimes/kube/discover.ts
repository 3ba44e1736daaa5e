// Finds, on every run, the addresses other clusters reach a cluster at: one node InternalIP per cluster (Docker hands
// out new ones after a restart), or the load-balancer address of each exposed Service once one is assigned.
import { isIP } from "node:net";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import type { KubeObject, RenderedCluster } from "../../render/types.ts";
import type { KubeApi } from "./api.ts";
import { type Clock, pollUntil } from "./wait.ts";

function isReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

function isControlPlane(node: V1Node): boolean {
  return "node-role.kubernetes.io/control-plane" in (node.metadata?.labels ?? {});
}

function internalIP(node: V1Node): string | undefined {
  const ips = (node.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) => a.address);
  // A dual-stack node lists both families; the other clusters dial IPv4 on kind's network.
  return ips.find((ip) => isIP(ip) === 4) ?? ips[0];
}

/**
 * The one node address a cluster's NodePorts are dialled at. One address, not one per node: the same sidecar
 * registered under two addresses is a duplicate store endpoint. Deterministic: a Ready control-plane node first
 * (kind maps the host ports there), then any Ready node, by name.
 */
export function nodeAddress(cluster: string, nodes: V1Node[]): string {
  if (nodes.length === 0)
    throw new Error(`cluster ${cluster} has no nodes; check it with 'kubectl get nodes'`);
  const rank = (n: V1Node) => (isReady(n) ? 0 : 2) + (isControlPlane(n) ? 0 : 1);
  const sorted = [...nodes].sort(
    (a, b) => rank(a) - rank(b) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
  for (const node of sorted) {
    const ip = internalIP(node);
    if (ip) return ip;
  }
  const names = nodes.map((n) => n.metadata?.name).join(", ");
  throw new Error(`no node of cluster ${cluster} reports an InternalIP address (nodes: ${names})`);
}

/** The exposed Services of a cluster that are LoadBalancers, as rendered. */
export function loadBalancerServices(cluster: RenderedCluster): KubeObject[] {
  return cluster.manifests.filter(
    (o) => o.kind === "Service" && (o.spec as { type?: string } | undefined)?.type === "LoadBalancer",
  );
}

/** "host:port" of each NodePort of a LoadBalancer Service, once the load balancer has an address. */
export function loadBalancerAddresses(service: V1Service): Record<string, string> | undefined {
  const ingress = service.status?.loadBalancer?.ingress?.[0];
  const host = ingress?.ip || ingress?.hostname;
  if (!host) return undefined;
  const out: Record<string, string> = {};
  for (const p of service.spec?.ports ?? []) {
    if (p.nodePort) out[String(p.nodePort)] = `${isIP(host) === 6 ? `[${host}]` : host}:${p.port}`;
  }
  return out;
}

/** Which NodePorts a rendered Service asks for: the key its load-balancer addresses are recorded under. */
function renderedNodePorts(service: KubeObject): number[] {
  const ports = ((service.spec as { ports?: { nodePort?: number }[] } | undefined)?.ports ?? []) as {
    nodePort?: number;
  }[];
  return ports.map((p) => p.nodePort).filter((p): p is number => typeof p === "number");
}

export interface DiscoverOptions {
  clusters: RenderedCluster[];
  /** serviceType per cluster name. */
  serviceType: (cluster: string) => "NodePort" | "LoadBalancer";
  api: (context: string) => KubeApi;
  clock: Clock;
  signal?: AbortSignal;
  /** How long to wait for a load balancer to assign an address. */
  loadBalancerTimeoutMs: number;
}

/** Every cluster's node address, and load-balancer addresses where the cluster uses them. */
export async function discoverAddresses(opts: DiscoverOptions): Promise<DiscoveredAddresses> {
  const nodeIP: Record<string, string> = {};
  const loadBalancer: Record<string, Record<string, string>> = {};
  for (const c of opts.clusters) {
    const api = opts.api(c.context);
    nodeIP[c.cluster] = nodeAddress(c.cluster, await api.listNodes());
    if (opts.serviceType(c.cluster) !== "LoadBalancer") continue;
    const found: Record<string, string> = {};
    for (const svc of loadBalancerServices(c)) {
      const { name, namespace = "default" } = svc.metadata;
      const addresses = await pollUntil(
        opts.clock,
        async () => {
          const live = await api.getService(namespace, name);
          return live ? loadBalancerAddresses(live) : undefined;
        },
        {
          timeoutMs: opts.loadBalancerTimeoutMs,
          signal: opts.signal,
          what: () =>
            `Service ${namespace}/${name} in cluster ${c.cluster} has no load-balancer address; a cluster without a ` +
            "load-balancer controller (kind without cloud-provider-kind, bare metal without MetalLB) never assigns one: " +
            "install one, or set serviceType: NodePort for this cluster",
        },
      );
      for (const port of renderedNodePorts(svc)) {
        const address = addresses[String(port)];
        if (address) found[String(port)] = address;
      }
    }
    loadBalancer[c.cluster] = found;
  }
  return Object.keys(loadBalancer).length > 0 ? { nodeIP, loadBalancer } : { nodeIP };
}
