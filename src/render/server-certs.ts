// Each Kubernetes server workload's own certificate: which workloads serve TLS, the names and addresses their clients
// dial (its SANs), and the Secret of its own it lives in, renewed in place (the local runtime's are in
// runtimes/local/processes.ts).
import { isIP } from "node:net";
import { ALERTMANAGER_WORKLOAD } from "../components/alertmanager.ts";
import { NAMESPACE } from "../components/context.ts";
import type { FleetSpec } from "../components/fleet.ts";
import { OPERATOR_GOVERNING_SERVICE, PROMETHEUS_WORKLOAD } from "../components/prometheus.ts";
import { type PodSpec, podName } from "../components/types.ts";
import { KUBE_LEAF_PREFIX, type Leaf, type LeafRequest } from "../state/server-certs.ts";
import type { Topology } from "../topology/topology.ts";
import type { DiscoveredAddresses } from "./addresses.ts";

export function kubeLeafName(cluster: string, workload: string): string {
  return `${KUBE_LEAF_PREFIX}${cluster}/${workload}`;
}

/** `kube@biz1/alertmanager` → `{ cluster: "biz1", workload: "alertmanager" }`; undefined for a local leaf's name. */
export function parseKubeLeafName(name: string): { cluster: string; workload: string } | undefined {
  if (!name.startsWith(KUBE_LEAF_PREFIX)) return undefined;
  const [cluster, workload] = name.slice(KUBE_LEAF_PREFIX.length).split("/");
  return cluster && workload ? { cluster, workload } : undefined;
}

/** The Secret of its own a server workload's certificate and key live in, in its cluster. */
export function serverTlsSecretName(workload: string): string {
  return `${workload}-tls`;
}

/** The key of the certificate and of the private key in every server's Secret. */
export const SERVER_TLS_KEYS = { cert: "tls.crt", key: "tls.key" } as const;

/** The chart names its Alertmanager Service `<release>-alertmanager`. */
export const CHART_ALERTMANAGER_SERVICE = "kube-prometheus-stack-alertmanager";

/** The certificates and keys a spec is first built with, which each server's own replaces. */
export interface SharedServerPems {
  certs: string[];
  keys: string[];
}

/** Whether a pod serves TLS: one of its containers has a copy of a shared server certificate. */
export function servesTls(pod: PodSpec, shared: SharedServerPems): boolean {
  return pod.containers.some((c) => c.files.some((f) => shared.certs.includes(f.content)));
}

/** `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`: every way a pod of the cluster may name a Service. */
export function serviceDnsNames(service: string): string[] {
  return [
    service,
    `${service}.${NAMESPACE}`,
    `${service}.${NAMESPACE}.svc`,
    `${service}.${NAMESPACE}.svc.cluster.local`,
  ];
}

function podDnsNames(pod: string, headless: string): string[] {
  return [`${pod}.${headless}.${NAMESPACE}.svc`, `${pod}.${headless}.${NAMESPACE}.svc.cluster.local`];
}

/** `IP:…` for an address, `DNS:…` for a host name (a load balancer's). */
function hostSan(host: string): string {
  return isIP(host) ? `IP:${host}` : `DNS:${host}`;
}

/**
 * The SANs of one server workload: its Services' DNS names (and the `-exposed` one beside a Service mixing exposed
 * and in-cluster ports), each pod's name under a headless Service, the chart's per-pod names that are dialled
 * (Prometheus's peer scrapes), the node address (or the load balancer's) where one of its ports has a NodePort, and
 * 127.0.0.1, where thanos-fleet itself reaches every server (kubectl-style port-forwards, kind's host ports). An
 * address not discovered yet (`render` before any `up`) is left out: `up` re-issues the certificate once it is known.
 */
export function serverSans(
  topology: Topology,
  spec: FleetSpec,
  pod: PodSpec,
  discovered: DiscoveredAddresses | undefined,
): string[] {
  const dns = new Set<string>();
  const ips = new Set<string>(["IP:127.0.0.1"]);
  const serviceType = topology.fleet.clusters.find((c) => c.name === pod.cluster)?.serviceType;
  for (const s of spec.services) {
    if (s.cluster !== pod.cluster || s.selector.workload !== pod.name) continue;
    const name = s.chart && s.name === ALERTMANAGER_WORKLOAD ? CHART_ALERTMANAGER_SERVICE : s.name;
    for (const d of serviceDnsNames(name)) dns.add(d);
    const exposed = s.ports.filter((p) => p.nodePort !== undefined);
    if (!s.headless && exposed.length > 0 && exposed.length < s.ports.length) {
      for (const d of serviceDnsNames(`${name}-exposed`)) dns.add(d);
    }
    if (s.headless) {
      for (let i = 0; i < pod.replicas; i++)
        for (const d of podDnsNames(podName(pod.name, i), name)) dns.add(d);
    }
    for (const p of exposed) {
      if (serviceType === "LoadBalancer") {
        const at = discovered?.loadBalancer?.[pod.cluster]?.[String(p.nodePort)];
        if (at) ips.add(hostSan(at.replace(/:\d+$/, "")));
      } else {
        const node = discovered?.nodeIP[pod.cluster];
        if (node) ips.add(hostSan(node));
      }
    }
  }
  if (pod.name === PROMETHEUS_WORKLOAD) {
    // Each Prometheus scrapes its peers' sidecars by their pod names under the operator's governing Service.
    const replicas = spec.services.filter(
      (s) => s.cluster === pod.cluster && s.selector.workload === pod.name,
    );
    for (const r of new Set(replicas.flatMap((s) => (s.selector.pod ? [s.selector.pod] : [])))) {
      for (const d of podDnsNames(r, OPERATOR_GOVERNING_SERVICE)) dns.add(d);
    }
  }
  return [...[...dns].map((d) => `DNS:${d}`), ...ips].sort();
}

/** Every server workload of the spec that serves TLS, with the SANs of its certificate. */
export function kubeServerLeafRequests(
  topology: Topology,
  spec: FleetSpec,
  shared: SharedServerPems,
  discovered: DiscoveredAddresses | undefined,
): LeafRequest[] {
  return spec.pods
    .filter((p) => servesTls(p, shared))
    .map((p) => ({ name: kubeLeafName(p.cluster, p.name), sans: serverSans(topology, spec, p, discovered) }));
}

/**
 * The pod with its own certificate and key in place of every copy of the shared ones, each file marked `ownCert`
 * (Kubernetes puts them in the workload's Secret of its own, outside the config hash: a renewal rolls nothing).
 * Without `leaves` (a render that only needs the fleet's shape: `plan`, `images`, the first pass that finds the
 * SANs) the shared ones stay, in the same places.
 */
export function withOwnLeaf(pod: PodSpec, shared: SharedServerPems, leaves?: Map<string, Leaf>): PodSpec {
  if (!servesTls(pod, shared)) return pod;
  const leaf = leaves ? ownLeaf(pod, leaves) : undefined;
  return markOwnCert(pod, shared, (part, content) => leaf?.[part] ?? content);
}

/** Every copy of a shared server certificate or key in the pod marked as its own (`ownCert`), with `content`'s. */
export function markOwnCert(
  pod: PodSpec,
  shared: SharedServerPems,
  content: (part: "cert" | "key", shared: string) => string,
): PodSpec {
  const part = (pem: string) =>
    shared.certs.includes(pem) ? "cert" : shared.keys.includes(pem) ? "key" : undefined;
  return {
    ...pod,
    containers: pod.containers.map((c) => ({
      ...c,
      files: c.files.map((f) => {
        const own = part(f.content);
        return own ? { ...f, content: content(own, f.content), ownCert: own } : f;
      }),
    })),
  };
}

/** The pod's workload's own certificate among `leaves`; an error naming it when it is missing. */
export function ownLeaf(pod: PodSpec, leaves: Map<string, Leaf>): Leaf {
  const name = kubeLeafName(pod.cluster, pod.name);
  const leaf = leaves.get(name);
  if (!leaf)
    throw new Error(
      `${pod.cluster}/${pod.name} serves TLS but was given no certificate of its own (${name})`,
    );
  return leaf;
}
