// Applies rendered objects by server-side apply, labelled as thanos-fleet's, and waits until workloads and Jobs are done.
import type { KubeObject } from "../../render/types.ts";
import { describeRef, FIELD_MANAGER, type KubeApi, KubeApiError, MANAGED_BY_LABEL, refOf } from "./api.ts";
import { addUnique, type ClusterState } from "./state.ts";
import { type Clock, pollUntil } from "./wait.ts";

/** The object with the managed-by label, so that `down` finds exactly what `up` applied. */
export function withManagedBy(obj: KubeObject): KubeObject {
  if (obj.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER) return obj;
  return {
    ...obj,
    metadata: { ...obj.metadata, labels: { ...obj.metadata.labels, [MANAGED_BY_LABEL]: FIELD_MANAGER } },
  };
}

/** Records in the cluster's state what an apply is about to create, before it does. */
async function remember(api: KubeApi, obj: KubeObject, state: ClusterState): Promise<void> {
  if (obj.kind === "Namespace") {
    const name = obj.metadata.name;
    if (!state.namespaces.includes(name)) {
      // A namespace that existed before thanos-fleet is left in place by `down`; only its own objects go.
      if (!(await api.get(refOf(obj)))) addUnique(state.namespacesCreated, name);
      addUnique(state.namespaces, name);
    }
    return;
  }
  if (obj.metadata.namespace) addUnique(state.namespaces, obj.metadata.namespace);
  addUnique(
    state.kinds,
    { apiVersion: obj.apiVersion, kind: obj.kind },
    (a, b) => a.apiVersion === b.apiVersion && a.kind === b.kind,
  );
}

export interface ApplyOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** Called after each object's state is recorded, to persist it before the apply. */
  persist?: () => Promise<void>;
}

/** Server-side applies each object in order. A Job whose template changed is replaced: its spec is immutable. */
export async function applyObjects(
  api: KubeApi,
  objects: KubeObject[],
  state: ClusterState,
  opts: ApplyOptions,
): Promise<void> {
  for (const raw of objects) {
    opts.signal?.throwIfAborted();
    const obj = withManagedBy(raw);
    await remember(api, obj, state);
    await opts.persist?.();
    try {
      await api.serverSideApply(obj);
    } catch (error) {
      if (obj.kind !== "Job" || !(error instanceof KubeApiError) || error.status !== 422) throw error;
      await replaceJob(api, obj, opts);
    }
  }
}

async function replaceJob(api: KubeApi, job: KubeObject, opts: ApplyOptions): Promise<void> {
  const ref = refOf(job);
  await api.delete(ref);
  await pollUntil(opts.clock, async () => ((await api.get(ref)) ? undefined : true), {
    timeoutMs: 120_000,
    intervalMs: 1000,
    signal: opts.signal,
    what: () => `${describeRef(ref)} in context ${api.context} is still being deleted`,
  });
  await api.serverSideApply(job);
}

interface WorkloadStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  succeeded?: number;
  failed?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** Whether a Deployment, StatefulSet or Job is done, with a word on where it stands otherwise. */
export function readiness(obj: KubeObject): { ready: boolean; detail: string; failed?: string } {
  const status = (obj.status ?? {}) as WorkloadStatus;
  if (obj.kind === "Job") {
    const failed = status.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    if (failed)
      return { ready: false, detail: "failed", failed: failed.reason ?? failed.message ?? "failed" };
    const complete = status.conditions?.some((c) => c.type === "Complete" && c.status === "True");
    return {
      ready: Boolean(complete),
      detail: complete ? "complete" : `not complete (${status.failed ?? 0} failed attempts)`,
    };
  }
  const want = (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const generation = obj.metadata.generation as number | undefined;
  const observed = status.observedGeneration ?? 0;
  const ready = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const done = (generation === undefined || observed >= generation) && ready >= want && updated >= want;
  return { ready: done, detail: `${ready}/${want} ready, ${updated}/${want} updated` };
}

const WAITED = new Set(["Deployment", "StatefulSet", "Job"]);

/** Waits until every Deployment and StatefulSet among objects is rolled out and every Job has completed. */
export async function waitReady(
  api: KubeApi,
  objects: KubeObject[],
  opts: { clock: Clock; signal?: AbortSignal; timeoutMs: number },
): Promise<void> {
  const pending = objects.filter((o) => WAITED.has(o.kind)).map(refOf);
  const last = new Map<string, string>();
  await pollUntil(
    opts.clock,
    async () => {
      for (const ref of [...pending]) {
        const live = await api.get(ref);
        if (!live) {
          last.set(describeRef(ref), "missing");
          continue;
        }
        const r = readiness(live);
        if (r.failed) {
          throw new Error(
            `${describeRef(ref)} in context ${api.context} failed (${r.failed}); see ` +
              `'kubectl --context ${api.context} -n ${ref.namespace} logs ${ref.kind.toLowerCase()}/${ref.name}'`,
          );
        }
        if (r.ready) {
          pending.splice(pending.indexOf(ref), 1);
          last.delete(describeRef(ref));
        } else last.set(describeRef(ref), r.detail);
      }
      return pending.length === 0 ? true : undefined;
    },
    {
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      what: () =>
        `not ready in context ${api.context}: ${[...last].map(([what, detail]) => `${what} (${detail})`).join(", ")}; ` +
        `see 'kubectl --context ${api.context} get pods -A' and the events of the pods that are not ready`,
    },
  );
}
