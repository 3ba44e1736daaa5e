// The kubeconfig a client reads to reach test control planes: one context per control plane, admin client certs.

import { writeFile } from "node:fs/promises";
import { stringify } from "../../src/yaml.ts";

export interface KubeconfigEntry {
  context: string;
  server: string;
  ca: string;
  cert: string;
  key: string;
}

const b64 = (pem: string): string => Buffer.from(pem).toString("base64");

/** A kubeconfig holding every entry; the first one is the current context. */
export function kubeconfigYaml(entries: readonly KubeconfigEntry[]): string {
  if (entries.length === 0) throw new Error("a kubeconfig needs at least one context");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    "current-context": entries[0]?.context,
    clusters: entries.map((e) => ({
      name: e.context,
      cluster: { server: e.server, "certificate-authority-data": b64(e.ca) },
    })),
    users: entries.map((e) => ({
      name: e.context,
      user: { "client-certificate-data": b64(e.cert), "client-key-data": b64(e.key) },
    })),
    contexts: entries.map((e) => ({ name: e.context, context: { cluster: e.context, user: e.context } })),
  });
}

export async function writeKubeconfig(path: string, entries: readonly KubeconfigEntry[]): Promise<void> {
  await writeFile(path, kubeconfigYaml(entries), { mode: 0o600 });
}
