// Node objects shaped as kind's kubelets register them, for a control plane that has no kubelet: the runtime's
// address discovery reads exactly these fields.

import { CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";

export interface KindNode {
  name: string;
  /** The node's address on the `kind` Docker network, e.g. 172.18.0.3. */
  internalIP: string;
  controlPlane?: boolean;
}

/** kind's node names: `<cluster>-control-plane`, `<cluster>-worker`, `<cluster>-worker2`, … */
export function kindNodeNames(cluster: string, workers: number): string[] {
  return [
    `${cluster}-control-plane`,
    ...Array.from({ length: workers }, (_, i) => `${cluster}-worker${i === 0 ? "" : i + 1}`),
  ];
}

function nodeStatus(n: KindNode): V1Node["status"] {
  return {
    addresses: [
      { type: "InternalIP", address: n.internalIP },
      { type: "Hostname", address: n.name },
    ],
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "kubelet is posting ready status",
        lastHeartbeatTime: new Date(),
        lastTransitionTime: new Date(),
      },
    ],
    nodeInfo: {
      architecture: "amd64",
      bootID: "",
      containerRuntimeVersion: "containerd://2.1.4",
      kernelVersion: "6.1.0",
      kubeProxyVersion: "",
      kubeletVersion: "v1.36.3",
      machineID: "",
      operatingSystem: "linux",
      osImage: "Debian GNU/Linux 12 (bookworm)",
      systemUUID: "",
    },
  };
}

/**
 * Creates each Node, then sets its status through the status subresource (the API ignores status on create),
 * as a kubelet would. An existing Node of that name gets its status replaced: that is how a test moves a node
 * to a new address, as Docker does after a restart.
 */
export async function registerKindNodes(
  kc: KubeConfig,
  cluster: string,
  nodes: readonly KindNode[],
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const n of nodes) {
    const labels: Record<string, string> = {
      "kubernetes.io/hostname": n.name,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      ...(n.controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {}),
    };
    let node: V1Node;
    try {
      node = await core.readNode({ name: n.name });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      node = await core.createNode({
        body: {
          metadata: { name: n.name, labels },
          spec: { providerID: `kind://docker/${cluster}/${n.name}` },
        },
      });
    }
    node.status = nodeStatus(n);
    await core.replaceNodeStatus({ name: n.name, body: node });
  }
}
