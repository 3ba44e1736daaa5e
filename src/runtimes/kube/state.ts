// What the Kubernetes runtime remembers between runs: which kind clusters it created and what it installed where,
// so that `down` removes exactly that and nothing else.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonFile } from "../../state/json-file.ts";

const Kinds = z.array(z.object({ apiVersion: z.string(), kind: z.string() }));

const ClusterState = z.object({
  context: z.string(),
  /** thanos-fleet ran `kind create cluster` for it: `down` deletes the whole cluster. */
  createdKind: z.boolean().default(false),
  /** Namespaces that did not exist before thanos-fleet applied them. */
  namespacesCreated: z.array(z.string()).default([]),
  /** Namespaces holding objects thanos-fleet applied (all carry the managed-by label). */
  namespaces: z.array(z.string()).default([]),
  /** Kinds of the objects applied, to find them again by label. */
  kinds: Kinds.default([]),
  helmReleases: z.array(z.object({ name: z.string(), namespace: z.string() })).default([]),
});
export type ClusterState = z.infer<typeof ClusterState>;

const KubeState = z.object({
  version: z.literal(1),
  clusters: z.record(z.string(), ClusterState).default({}),
  /** kind created its Docker network with a cluster thanos-fleet created: `down` removes it once it is unused. */
  createdKindNetwork: z.boolean().default(false),
});
export type KubeState = z.infer<typeof KubeState>;

/** The runtime's own directory inside the state dir: state.json, kind configs, Helm values. */
export function kubeDir(stateDir: string): string {
  return join(stateDir, "kube");
}

export function stateFile(stateDir: string): string {
  return join(kubeDir(stateDir), "state.json");
}

export function emptyState(): KubeState {
  return { version: 1, clusters: {}, createdKindNetwork: false };
}

export async function readState(stateDir: string): Promise<KubeState> {
  const file = stateFile(stateDir);
  const state = await readJsonFile(file, {
    validate: (value) => KubeState.parse(value),
    unreadable: `Kubernetes runtime state ${file} cannot be read; check its permissions`,
    damaged: `Kubernetes runtime state ${file} is damaged; delete it only if no cluster of this fleet exists any more`,
  });
  return state ?? emptyState();
}

/** Writes the state atomically, readable by the user only. */
export async function writeState(stateDir: string, state: KubeState): Promise<void> {
  await writeJsonFile(stateFile(stateDir), state);
}

export async function removeState(stateDir: string): Promise<void> {
  await rm(kubeDir(stateDir), { recursive: true, force: true });
}

/** The cluster's entry, created on first use. */
export function clusterState(state: KubeState, cluster: string, context: string): ClusterState {
  let entry = state.clusters[cluster];
  if (!entry) {
    entry = {
      context,
      createdKind: false,
      namespacesCreated: [],
      namespaces: [],
      kinds: [],
      helmReleases: [],
    };
    state.clusters[cluster] = entry;
  }
  entry.context = context;
  return entry;
}

export function addUnique<T>(list: T[], item: T, same: (a: T, b: T) => boolean = (a, b) => a === b): void {
  if (!list.some((x) => same(x, item))) list.push(item);
}
