// Each Kubernetes server workload's own certificate: made, renewed and kept in `<state-dir>/tls/servers/` like the
// local runtime's (state/server-certs.ts), for the SANs the render gives it (render/server-certs.ts).
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import { kubeLeafRequests, type RenderOptions } from "../../render/render.ts";
import { type Leaf, loadServerLeaves, type Renewal } from "../../state/server-certs.ts";
import type { Topology } from "../../topology/topology.ts";

/** What a render needs to know which servers serve TLS: the options without the servers' own certificates. */
export type LeafRenderOptions = Omit<RenderOptions, "serverLeaves" | "discovered" | "outDir">;

export interface KubeLeaves {
  leaves: Map<string, Leaf>;
  renewals: Renewal[];
  /** Writes what was made or renewed to `<state-dir>/tls/servers/`. */
  save: () => Promise<void>;
}

/**
 * Every Kubernetes server's own certificate for these addresses, from `<state-dir>/tls/servers/`: made when missing,
 * renewed on its own key when it expires within 30 days or its addresses changed, or (`renewAll`: `certs rotate`)
 * every one. Nothing is written until `save()`.
 */
export async function loadKubeLeaves(
  topology: Topology,
  stateDir: string,
  opts: LeafRenderOptions,
  discovered: DiscoveredAddresses | undefined,
  ca: { cert: string; key: () => Promise<string> },
  flags: { renewAll?: boolean } = {},
): Promise<KubeLeaves> {
  const requests = kubeLeafRequests(topology, { ...opts, ...(discovered ? { discovered } : {}) });
  if (requests.length === 0) return { leaves: new Map(), renewals: [], save: async () => {} };
  return loadServerLeaves(stateDir, requests, { cert: ca.cert, key: await ca.key() }, flags);
}
