// Stands in for the parts of a cluster that finish a deletion, which a bare control plane lacks: the garbage collector
// (a foreground deletion waits for its dependents, then its finalizer goes; dependents of a deleted owner are
// deleted), PVC protection (a deleted claim goes once no pod uses it), the namespace controller (a deleted namespace's content is deleted, then the namespace finalized) and a
// slow kubelet (a pod bound to a node is only marked as being deleted until the kubelet confirms, here `kubeletDelayMs`
// later). Nothing here keeps time promises: it only makes deletions end the way a real cluster ends them, later.

import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { repeatUntilStopped } from "./status.ts";

/** The kinds whose deletions this finishes: what thanos-fleet, the chart and the test put in a cluster. */
const KINDS: [string, string][] = [
  ["v1", "Pod"],
  ["apps/v1", "StatefulSet"],
  ["apps/v1", "Deployment"],
  ["apps/v1", "ReplicaSet"],
  ["apps/v1", "DaemonSet"],
  ["batch/v1", "Job"],
  ["v1", "Service"],
  ["v1", "ConfigMap"],
  ["v1", "Secret"],
  ["v1", "PersistentVolumeClaim"],
  ["monitoring.coreos.com/v1", "Prometheus"],
  ["monitoring.coreos.com/v1", "Alertmanager"],
];

const FOREGROUND = "foregroundDeletion";
const PVC_PROTECTION = "kubernetes.io/pvc-protection";

export interface DeletionControllers {
  /** "Kind namespace/name" of every object whose deletion this finished (pods, foreground owners, namespaces). */
  readonly finished: string[];
  stop(): Promise<void>;
}

const named = (o: KubernetesObject) => `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;

/** Polls every `intervalMs` (default 100) until stop(). */
export function startDeletionControllers(
  kc: KubeConfig,
  opts: { kubeletDelayMs: number; intervalMs?: number },
): DeletionControllers {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const finished: string[] = [];
  /** When the kubelet first saw each pod being deleted, by uid. */
  const seenDeleting = new Map<string, number>();
  const gone = (err: unknown) => {
    const code = (err as { code?: number }).code;
    if (code !== 404 && code !== 409) throw err;
  };

  /** Removes one finalizer: the API server deletes the object once none is left. */
  const dropFinalizer = async (o: KubernetesObject, finalizer: string) => {
    const { name, namespace, finalizers = [] } = o.metadata ?? {};
    const rest = finalizers.filter((f) => f !== finalizer);
    await objects
      .patch(
        { apiVersion: o.apiVersion, kind: o.kind, metadata: { name, namespace, finalizers: rest } },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      )
      .then(() => {
        if (rest.length === 0) finished.push(named(o));
      }, gone);
  };

  const listAll = async (): Promise<KubernetesObject[]> => {
    const all: KubernetesObject[] = [];
    for (const [apiVersion, kind] of KINDS) {
      // The operator's kinds exist only where the chart installed their CRDs.
      const list = await objects.list(apiVersion, kind).catch(() => undefined);
      for (const item of list?.items ?? []) all.push({ ...item, apiVersion, kind });
    }
    return all;
  };

  const round = async (): Promise<void> => {
    const all = await listAll();
    const alive = new Set(all.map((o) => o.metadata?.uid));
    for (const o of all) {
      const meta = o.metadata ?? {};
      const deleting = Boolean(meta.deletionTimestamp);
      const dependents = all.filter((d) => d.metadata?.ownerReferences?.some((r) => r.uid === meta.uid));
      // Garbage collector: an owner deleted in the foreground loses its finalizer once its dependents are gone.
      if (deleting && meta.finalizers?.includes(FOREGROUND)) {
        for (const d of dependents.filter((x) => !x.metadata?.deletionTimestamp)) {
          await objects.delete(d, undefined, undefined, undefined, undefined, "Background").catch(gone);
        }
        if (dependents.length === 0) await dropFinalizer(o, FOREGROUND);
        continue;
      }
      // PVC protection: a claim being deleted loses its finalizer once no pod uses it.
      if (deleting && o.kind === "PersistentVolumeClaim" && meta.finalizers?.includes(PVC_PROTECTION)) {
        const used = all.some(
          (p) =>
            p.kind === "Pod" &&
            p.metadata?.namespace === meta.namespace &&
            (
              p as { spec?: { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] } }
            ).spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === meta.name),
        );
        if (!used) await dropFinalizer(o, PVC_PROTECTION);
        continue;
      }
      // Garbage collector: what every owner of is gone goes too.
      const owners = meta.ownerReferences ?? [];
      if (!deleting && owners.length > 0 && owners.every((r) => !alive.has(r.uid))) {
        await objects.delete(o, undefined, undefined, undefined, undefined, "Background").catch(gone);
        continue;
      }
      // Kubelet: a pod being deleted is confirmed gone a while after it was first seen so.
      if (o.kind === "Pod" && deleting && meta.uid && meta.deletionGracePeriodSeconds !== 0) {
        const since = seenDeleting.get(meta.uid) ?? Date.now();
        seenDeleting.set(meta.uid, since);
        if (Date.now() - since >= opts.kubeletDelayMs) {
          await objects.delete(o, undefined, undefined, 0).then(() => finished.push(named(o)), gone);
        }
      }
    }
    // Namespace controller: a namespace being deleted loses its content, then is finalized.
    for (const ns of (await core.listNamespace()).items) {
      if (!ns.metadata?.deletionTimestamp) continue;
      const content = all.filter((o) => o.metadata?.namespace === ns.metadata?.name);
      for (const o of content.filter((x) => !x.metadata?.deletionTimestamp)) {
        await objects.delete(o, undefined, undefined, undefined, undefined, "Background").catch(gone);
      }
      if (content.length > 0 || (ns.spec?.finalizers ?? []).length === 0) continue;
      await core
        .replaceNamespaceFinalize({ name: ns.metadata.name ?? "", body: { ...ns, spec: { finalizers: [] } } })
        .then(() => finished.push(`Namespace /${ns.metadata?.name}`), gone);
    }
  };

  const loop = repeatUntilStopped(round, opts.intervalMs ?? 100, "the deletion controllers");

  return { finished, stop: loop.stop };
}
