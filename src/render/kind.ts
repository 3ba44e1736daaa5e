// kind cluster configs: pinned node image, and host ports for every UI so that Docker Desktop hosts reach them too.
import { openings } from "../components/fleet.ts";
import type { Topology } from "../topology/topology.ts";
import type { HostPort } from "./types.ts";

/** Host ports of cluster i are HOST_PORT_BASE + i*HOST_PORT_BLOCK + j: distinct across clusters, stable per config. */
export const HOST_PORT_BASE = 20000;
export const HOST_PORT_BLOCK = 100;

/** Host ports of a kind cluster; empty for an existing cluster (`context:` set), which kind does not create. */
export function hostPorts(topology: Topology, cluster: string): HostPort[] {
  const index = topology.fleet.clusters.findIndex((c) => c.name === cluster);
  const c = topology.fleet.clusters[index];
  if (!c) throw new Error(`no cluster named '${cluster}' in ${topology.source}`);
  if (c.context) return [];
  // What a person opens on Kubernetes, Grafana's reserved port included, in the components' fixed order.
  const ports = openings(topology, "kubernetes")
    .filter((o) => o.cluster === cluster)
    .map((o) => ({ name: o.name, nodePort: o.nodePort }));
  if (ports.length > HOST_PORT_BLOCK) {
    throw new Error(
      `cluster ${cluster} exposes ${ports.length} ports, more than the ${HOST_PORT_BLOCK} of its host port block`,
    );
  }
  const first = HOST_PORT_BASE + index * HOST_PORT_BLOCK;
  if (first + HOST_PORT_BLOCK > 65536) {
    throw new Error(
      `cluster ${cluster} is number ${index + 1}: kind host ports run out after ${(65536 - HOST_PORT_BASE) / HOST_PORT_BLOCK} clusters`,
    );
  }
  return ports.map((p, j) => ({ ...p, hostPort: first + j }));
}

/** The kind `Cluster` config (kind.x-k8s.io/v1alpha4): one control plane, one worker, host ports on the control plane. */
export function kindConfig(topology: Topology, cluster: string): Record<string, unknown> {
  const image = topology.fleet.versions.kindNodeImage;
  return {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    name: cluster,
    networking: { apiServerAddress: "127.0.0.1" },
    nodes: [
      {
        role: "control-plane",
        image,
        extraPortMappings: hostPorts(topology, cluster).map((p) => ({
          containerPort: p.nodePort,
          hostPort: p.hostPort,
          // Loopback only: the UIs have no authentication of their own.
          listenAddress: "127.0.0.1",
          protocol: "TCP",
        })),
      },
      { role: "worker", image },
    ],
  };
}
