// `down` on Kubernetes: deletes the kind clusters thanos-fleet created; on any other cluster, uninstalls exactly what
// `up` installed there (its Helm release, its labelled objects and volume claims, namespaces it created). Idempotent.

import { step } from "../../ui/reporter.ts";
import type { Reporter } from "../runtime.ts";
import { MANAGED_BY_SELECTOR, refOf } from "./api.ts";
import { uninstall } from "./helm.ts";
import { deleteKindCluster, removeUnusedKindNetwork } from "./kind.ts";
import type { KubeDeps } from "./run-context.ts";
import { type ClusterState, type KubeState, writeState } from "./state.ts";

const CLUSTER_SCOPED = new Set(["Namespace"]);

/** Removes what up applied to one cluster, newest kinds first, namespaces it created last. */
export async function uninstallCluster(
  deps: KubeDeps,
  cs: ClusterState,
  signal?: AbortSignal,
): Promise<void> {
  for (const r of cs.helmReleases) {
    await uninstall(deps.exec, { ...r, context: cs.context }, { signal });
  }
  const api = deps.api(cs.context);
  for (const kind of [...cs.kinds].reverse()) {
    if (CLUSTER_SCOPED.has(kind.kind)) continue;
    for (const namespace of cs.namespaces) {
      const objects = await api.list(kind.apiVersion, kind.kind, {
        namespace,
        labelSelector: MANAGED_BY_SELECTOR,
      });
      for (const obj of objects) await api.delete(refOf(obj));
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
      await api.delete({ apiVersion: "v1", kind: "Namespace", name: namespace });
    } else {
      // A namespace that was there before: applying it bare gives up the fields (labels) thanos-fleet set on it.
      await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    }
  }
}

export async function downFleet(
  deps: KubeDeps,
  state: KubeState,
  opts: { stateDir: string; reporter: Reporter; signal: AbortSignal; verbose: boolean },
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
  for (const name of names) {
    const cs = state.clusters[name];
    if (!cs) continue;
    if (cs.createdKind) {
      await step(opts.reporter, `delete kind cluster ${name} (created by thanos-fleet)`, () =>
        deleteKindCluster(deps.exec, name, stream(name)),
      );
    } else {
      await step(
        opts.reporter,
        `${name}: uninstall what thanos-fleet installed (context ${cs.context})`,
        () => uninstallCluster(deps, cs, opts.signal),
      );
    }
    delete state.clusters[name];
    await writeState(opts.stateDir, state);
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
}
