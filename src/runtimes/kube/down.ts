// `down` on Kubernetes: deletes the kind clusters thanos-fleet created; on any other cluster, uninstalls exactly what
// `up` installed there (its Helm release, its labelled objects and volume claims, namespaces it created), then waits
// until all of it, and every pod it owned, is gone. Idempotent: a `down` that was stopped or timed out runs again.

import type { KubeObject } from "../../render/types.ts";
import { step } from "../../ui/reporter.ts";
import type { Reporter } from "../runtime.ts";
import {
  describeRef,
  FIELD_MANAGER,
  type KubeApi,
  KubeApiError,
  MANAGED_BY_LABEL,
  MANAGED_BY_SELECTOR,
  type ObjectRef,
  refOf,
} from "./api.ts";
import { type Release, uninstall } from "./helm.ts";
import { deleteKindCluster, removeUnusedKindNetwork } from "./kind.ts";
import type { KubeDeps } from "./run-context.ts";
import { type ClusterState, type KubeState, writeState } from "./state.ts";
import { formatDuration, pollUntil, WaitTimeoutError } from "./wait.ts";

const CLUSTER_SCOPED = new Set(["Namespace"]);

/**
 * Kinds whose objects own pods (directly or through ReplicaSets): deleted in the foreground, so that each stays,
 * marked as being deleted, until the garbage collector has deleted its pods. Everything else is deleted in the
 * background, as before.
 */
const OWNS_PODS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

/** How long `down` waits, by default, until what it removed from existing clusters is gone. */
export const DEFAULT_DOWN_WAIT_MS = 5 * 60_000;

/** The annotation Helm (3.2 and later) puts on every object of a release. */
const HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name";

/** What `down` removed from one existing cluster, to wait for until it is gone. */
export interface Removal {
  cluster: string;
  context: string;
  /** Namespaces that held thanos-fleet's objects: its labelled objects and pods are looked for there. */
  namespaces: string[];
  kinds: { apiVersion: string; kind: string }[];
  /** The pods of the Helm releases it uninstalled, by uid, with the namespace they are in. */
  releasePods: { namespace: string; uids: Set<string> }[];
  /** Namespaces it created and deleted: the namespace controller removes what else is in them, then them. */
  namespacesDeleted: string[];
}

type Owner = { apiVersion: string; kind: string; name: string; controller?: boolean };
type Meta = { annotations?: Record<string, string>; ownerReferences?: Owner[]; uid?: string };

/**
 * The pods in a release's namespace that belong to it: those whose chain of owners (ReplicaSet → Deployment,
 * StatefulSet → the operator's Prometheus resource, DaemonSet) reaches an object Helm annotated with the release.
 * Read before the uninstall, while the owners are still there.
 */
async function podsOfRelease(api: KubeApi, r: Release): Promise<Set<string>> {
  const uids = new Set<string>();
  const releaseOf = new Map<string, Promise<string | undefined>>();
  const walk = (obj: { metadata: Meta }, depth: number): Promise<string | undefined> => {
    const meta = obj.metadata;
    const release = meta.annotations?.[HELM_RELEASE_ANNOTATION];
    if (release) return Promise.resolve(release);
    const owners = meta.ownerReferences ?? [];
    const owner = owners.find((o) => o.controller) ?? owners[0];
    if (!owner || depth >= 4) return Promise.resolve(undefined);
    const key = `${owner.apiVersion}|${owner.kind}|${owner.name}`;
    let found = releaseOf.get(key);
    if (!found) {
      const ref: ObjectRef = { ...owner, namespace: r.namespace };
      // An owner of a kind this cluster does not serve any more, or that is gone: not the release's.
      found = api.get(ref).then(
        (parent) => (parent ? walk(parent as { metadata: Meta }, depth + 1) : undefined),
        () => undefined,
      );
      releaseOf.set(key, found);
    }
    return found;
  };
  for (const pod of await api.list("v1", "Pod", { namespace: r.namespace })) {
    if (pod.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER) continue;
    if ((await walk(pod as { metadata: Meta }, 0)) === r.name) uids.add(String(pod.metadata.uid));
  }
  return uids;
}

/** Deletes a namespace; one that is already being deleted (HTTP 409 while its content goes) is not an error. */
async function deleteNamespace(api: KubeApi, namespace: string): Promise<void> {
  try {
    await api.delete({ apiVersion: "v1", kind: "Namespace", name: namespace });
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.status !== 409) throw error;
  }
}

/** Removes what up applied to one cluster, newest kinds first, namespaces it created last: what to wait for. */
export async function uninstallCluster(
  deps: KubeDeps,
  cluster: string,
  cs: ClusterState,
  signal?: AbortSignal,
): Promise<Removal> {
  const api = deps.api(cs.context);
  const removal: Removal = {
    cluster,
    context: cs.context,
    namespaces: [...cs.namespaces],
    kinds: cs.kinds.filter((k) => !CLUSTER_SCOPED.has(k.kind)),
    releasePods: [],
    namespacesDeleted: [],
  };
  for (const r of cs.helmReleases) {
    const release = { ...r, context: cs.context };
    removal.releasePods.push({ namespace: r.namespace, uids: await podsOfRelease(api, release) });
    await uninstall(deps.exec, release, { signal });
  }
  for (const kind of [...removal.kinds].reverse()) {
    for (const namespace of cs.namespaces) {
      const objects = await api.list(kind.apiVersion, kind.kind, {
        namespace,
        labelSelector: MANAGED_BY_SELECTOR,
      });
      const propagation = OWNS_PODS.has(kind.kind) ? "Foreground" : "Background";
      for (const obj of objects) await api.delete(refOf(obj), { propagation });
    }
  }
  // The volume claims a StatefulSet's controller made from its (labelled) templates: up never applied them.
  for (const namespace of cs.namespaces) {
    const claims = await api.list("v1", "PersistentVolumeClaim", {
      namespace,
      labelSelector: MANAGED_BY_SELECTOR,
    });
    for (const claim of claims) await api.delete(refOf(claim));
  }
  for (const namespace of cs.namespaces) {
    if (cs.namespacesCreated.includes(namespace)) {
      await deleteNamespace(api, namespace);
      removal.namespacesDeleted.push(namespace);
    } else {
      // A namespace that was there before: applying it bare gives up the fields (labels) thanos-fleet set on it.
      await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    }
  }
  return removal;
}

/** What of a removal is still there: objects (being deleted or not) and pods, e.g. "Pod monitoring/thanos-store-0". */
export async function remaining(api: KubeApi, removal: Removal): Promise<string[]> {
  const left: string[] = [];
  const name = (obj: KubeObject) => {
    // The garbage collector's own finalizer is how a foreground deletion works, not something that holds it.
    const held = ((obj.metadata.finalizers as string[] | undefined) ?? []).filter(
      (f) => f !== "foregroundDeletion",
    );
    return `${describeRef(refOf(obj))}${held.length > 0 ? ` (finalizers: ${held.join(", ")})` : ""}`;
  };
  for (const namespace of removal.namespaces) {
    const kinds = [...removal.kinds, { apiVersion: "v1", kind: "PersistentVolumeClaim" }];
    for (const { apiVersion, kind } of [...kinds, { apiVersion: "v1", kind: "Pod" }]) {
      const found = await api.list(apiVersion, kind, { namespace, labelSelector: MANAGED_BY_SELECTOR });
      left.push(...found.map(name));
    }
  }
  for (const { namespace, uids } of removal.releasePods) {
    if (uids.size === 0) continue;
    const pods = await api.list("v1", "Pod", { namespace });
    left.push(...pods.filter((p) => uids.has(String(p.metadata.uid))).map(name));
  }
  for (const namespace of removal.namespacesDeleted) {
    const ns = await api.get({ apiVersion: "v1", kind: "Namespace", name: namespace });
    if (ns) left.push(name(ns));
  }
  return [...new Set(left)];
}

function listed(items: string[], max: number): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/**
 * Polls every cluster until what was removed from it is gone, dropping each from the state as it empties. A line
 * each time the count of what is left changes; past the deadline, or when interrupted, an error naming what is left.
 */
async function waitGone(
  deps: KubeDeps,
  removals: Removal[],
  state: KubeState,
  opts: { stateDir: string; reporter: Reporter; signal: AbortSignal; waitMs: number },
): Promise<void> {
  const pending = new Map(removals.map((r) => [r.cluster, r]));
  const left = new Map<string, string[]>();
  let lastCount = -1;
  const probe = async () => {
    for (const removal of [...pending.values()]) {
      const now = await remaining(deps.api(removal.context), removal);
      if (now.length > 0) {
        left.set(removal.cluster, now);
        continue;
      }
      left.delete(removal.cluster);
      pending.delete(removal.cluster);
      delete state.clusters[removal.cluster];
      await writeState(opts.stateDir, state);
    }
    const count = [...left.values()].reduce((n, l) => n + l.length, 0);
    if (count > 0 && count !== lastCount) {
      const where = [...left].map(([cluster, l]) => `${cluster}: ${listed(l, 4)}`).join("; ");
      opts.reporter.info(`  ${count} still being deleted: ${where}`);
    }
    lastCount = count;
    return pending.size === 0 ? true : undefined;
  };
  const whatIsLeft = () =>
    [...left]
      .map(([cluster, l]) => `${cluster} (context ${pending.get(cluster)?.context}): ${l.join(", ")}`)
      .join("; ");
  const where = () =>
    [...pending.values()]
      .flatMap((r) => r.namespaces.map((ns) => `'kubectl --context ${r.context} -n ${ns} get all,pvc'`))
      .join(", ");
  try {
    await pollUntil(deps.clock, probe, { timeoutMs: opts.waitMs, signal: opts.signal, what: () => "" });
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      throw new WaitTimeoutError(
        `after ${formatDuration(opts.waitMs)}, what down deleted is still there: ${whatIsLeft()}. Kubernetes goes ` +
          "on deleting it; a finalizer nobody removes, a node that does not answer or a stopped controller holds it: " +
          `see ${where()} and 'kubectl describe' what is left, then run 'thanos-fleet down' again (it deletes ` +
          "what is left and waits again; --wait gives it longer)",
      );
    }
    if (!opts.signal.aborted) throw error;
    const what = left.size > 0 ? whatIsLeft() : `what down deleted (see ${where()})`;
    throw new Error(
      `interrupted while waiting for what down deleted to be gone; Kubernetes goes on deleting it, but these may ` +
        `remain: ${what}. The state dir still records these clusters: run 'thanos-fleet down' again to finish`,
      { cause: error },
    );
  }
}

export async function downFleet(
  deps: KubeDeps,
  state: KubeState,
  opts: { stateDir: string; reporter: Reporter; signal: AbortSignal; verbose: boolean; waitMs?: number },
): Promise<void> {
  const names = Object.keys(state.clusters);
  if (names.length === 0) {
    opts.reporter.info(
      "nothing to remove: thanos-fleet has installed nothing on Kubernetes from this state dir",
    );
    return;
  }
  const stream = (prefix: string) => ({
    signal: opts.signal,
    ...(opts.verbose ? { onLine: (line: string) => opts.reporter.verbose(`[${prefix}] ${line}`) } : {}),
  });
  const removals: Removal[] = [];
  for (const name of names) {
    const cs = state.clusters[name];
    if (!cs) continue;
    if (cs.createdKind) {
      await step(opts.reporter, `delete kind cluster ${name} (created by thanos-fleet)`, () =>
        deleteKindCluster(deps.exec, name, stream(name)),
      );
      delete state.clusters[name];
      await writeState(opts.stateDir, state);
    } else {
      // The cluster stays in the state until what was removed is gone: a `down` that stops before runs again.
      removals.push(
        await step(
          opts.reporter,
          `${name}: uninstall what thanos-fleet installed (context ${cs.context})`,
          () => uninstallCluster(deps, name, cs, opts.signal),
        ),
      );
    }
  }
  if (state.createdKindNetwork) {
    // Left in place while another kind cluster still uses it.
    const removed = await step(opts.reporter, "remove the kind network (created with the fleet)", () =>
      removeUnusedKindNetwork(deps.exec, { signal: opts.signal }),
    );
    if (!removed)
      opts.reporter.info("  the kind network is still in use by other kind clusters: left in place");
    state.createdKindNetwork = false;
    await writeState(opts.stateDir, state);
  }
  if (removals.length > 0) {
    const waitMs = opts.waitMs ?? DEFAULT_DOWN_WAIT_MS;
    const clusters = removals.map((r) => r.cluster).join(", ");
    await step(
      opts.reporter,
      `wait until what was deleted from ${clusters} is gone, its pods included (up to ${formatDuration(waitMs)})`,
      () => waitGone(deps, removals, state, { ...opts, waitMs }),
    );
  }
}
