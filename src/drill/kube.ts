// Faults on Kubernetes, through the API server only: a replica held down by scaling its workload down by one (a
// Prometheus through its operator's resource, the only place its replica count may change), a whole workload scaled
// to zero, a pod deleted for its controller to start again, and a cluster cut off by emptying its sidecar Services.
// Lifting writes back exactly the values read before the fault.
import { NAMESPACE } from "../components/context.ts";
import { PROMETHEUS_WORKLOAD } from "../components/prometheus.ts";
import { sidecarServiceName } from "../components/thanos/sidecar.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "../render/types.ts";
import { COMPONENT_LABEL } from "../render/workloads.ts";
import { describeRef, type KubeApi, type ObjectRef } from "../runtimes/kube/api.ts";
import { type Clock, pollUntil, realClock } from "../runtimes/kube/wait.ts";
import { PROMETHEUS_NAME, type Topology } from "../topology/topology.ts";
import type { Fault, Faults } from "./run.ts";
import type { Scenario, Victim } from "./scenarios.ts";

/** The selector key a cut-off adds to a sidecar Service: no pod carries it, so the Service has no endpoint. */
export const CUT_OFF_KEY = "thanos-fleet.io/drill-cut-off";

const PROMETHEUS_REF = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "Prometheus",
  namespace: NAMESPACE,
  name: PROMETHEUS_NAME,
};

export interface KubeFaultsInput {
  topology: Topology;
  fleet: RenderedFleet;
  api: (context: string) => KubeApi;
  /** Ends waits early (Ctrl-C); a lift still writes back what it changed. */
  signal: AbortSignal;
  clock?: Clock;
  /** Longest wait for pods to go or to be ready again. */
  timeoutMs?: number;
  intervalMs?: number;
}

/** Where the replica count of a victim lives, and the workload whose pods run it. */
interface Target {
  rc: RenderedCluster;
  api: KubeApi;
  /** The object whose spec.replicas is scaled. */
  scale: ObjectRef;
  /** The StatefulSet or Deployment that runs the pods (for a Prometheus, the one its operator made). */
  workload: ObjectRef;
}

interface LivePod {
  name: string;
  uid: string;
  terminating: boolean;
  ready: boolean;
}

function replicasOf(obj: KubeObject): number {
  return (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
}

function podRef(name: string): ObjectRef {
  return { apiVersion: "v1", kind: "Pod", namespace: NAMESPACE, name };
}

function kubectl(t: { rc: RenderedCluster }, args: string): string {
  return `kubectl --context ${t.rc.context} -n ${NAMESPACE} ${args}`;
}

export function kubeFaults(input: KubeFaultsInput): Faults {
  const { topology, fleet, signal } = input;
  const clock = input.clock ?? realClock;
  const timeoutMs = input.timeoutMs ?? 300_000;
  const intervalMs = input.intervalMs ?? 2000;

  const clusterOf = (name: string): RenderedCluster => {
    const rc = fleet.clusters.find((c) => c.cluster === name);
    if (!rc) throw new Error(`cluster ${name} is not in the rendered fleet`);
    return rc;
  };

  const target = (s: Scenario, v: Victim): Target => {
    const rc = clusterOf(v.cluster);
    const api = input.api(rc.context);
    if (v.component === "prometheus" || v.component === "sidecar") {
      const workload = {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        namespace: NAMESPACE,
        name: PROMETHEUS_WORKLOAD,
      };
      return { rc, api, scale: PROMETHEUS_REF, workload };
    }
    // The workload render labelled with the victim's component.
    const own = rc.manifests.find(
      (o) =>
        (o.kind === "StatefulSet" || o.kind === "Deployment") &&
        o.metadata.labels?.[COMPONENT_LABEL] === v.component,
    );
    if (!own) {
      throw new Error(
        `${s.id}: cluster ${v.cluster} runs no ${v.component} that thanos-fleet applies` +
          (v.component === "object-store"
            ? " (an object store outside the fleet is not the drill's to break)"
            : ""),
      );
    }
    const ref = { apiVersion: own.apiVersion, kind: own.kind, namespace: NAMESPACE, name: own.metadata.name };
    return { rc, api, scale: ref, workload: ref };
  };

  /** The pods of the workload, by its live selector (the operator's StatefulSet carries its own). */
  const podsOf = async (t: Target): Promise<LivePod[]> => {
    const live = await t.api.get(t.workload);
    if (!live) throw new Error(`${describeRef(t.workload)} is not in context ${t.rc.context}`);
    const labels = (live.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)
      ?.selector?.matchLabels;
    const selector = Object.entries(labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    if (!selector)
      throw new Error(`${describeRef(t.workload)} in context ${t.rc.context} has no label selector`);
    const pods = await t.api.list("v1", "Pod", { namespace: NAMESPACE, labelSelector: selector });
    return pods
      .map((p) => {
        const status = p.status as { conditions?: { type: string; status: string }[] } | undefined;
        return {
          name: p.metadata.name,
          uid: String(p.metadata.uid ?? ""),
          terminating: Boolean(p.metadata.deletionTimestamp),
          ready: (status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  };

  const wait = <T>(what: string, probe: () => Promise<T | undefined>) =>
    pollUntil(clock, probe, { timeoutMs, intervalMs, signal, what: () => `waited for ${what}` });

  /** `count` pods running and ready, none of them one of `old` (by uid). */
  const readyAgain = (t: Target, count: number, old: LivePod[] = []) =>
    wait(`${count} ready pod(s) of ${describeRef(t.workload)} in ${t.rc.cluster}`, async () => {
      const pods = await podsOf(t);
      const fresh = pods.filter((p) => !p.terminating && !old.some((o) => o.uid === p.uid));
      return pods.length === count && fresh.length === count && fresh.every((p) => p.ready)
        ? true
        : undefined;
    });

  /** Writes, then waits; a wait that fails or is interrupted writes back before it throws. */
  const guarded = async <T>(undo: () => Promise<void>, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      await undo();
      throw error;
    }
  };

  const down = async (s: Scenario, v: Victim): Promise<Fault> => {
    const t = target(s, v);
    const live = await t.api.get(t.scale);
    if (!live) throw new Error(`${s.id}: ${describeRef(t.scale)} is not in context ${t.rc.context}`);
    const before = replicasOf(live);
    const after = v.pod ? before - 1 : 0;
    if (before < 1)
      throw new Error(`${s.id}: ${describeRef(t.scale)} in ${t.rc.cluster} already runs no replica`);
    if (v.pod && t.workload.kind === "StatefulSet" && v.pod !== `${t.workload.name}-${before - 1}`) {
      throw new Error(
        `${s.id}: ${describeRef(t.scale)} in ${t.rc.cluster} runs ${before} replica(s), so scaling it down removes ` +
          `${t.workload.name}-${before - 1}, not ${v.pod}; fleet.yaml and the cluster disagree: run 'thanos-fleet up'`,
      );
    }
    const podsBefore = await podsOf(t);
    const restore = async () => {
      await t.api.mergePatch(t.scale, { spec: { replicas: before } });
    };
    await t.api.mergePatch(t.scale, { spec: { replicas: after } });
    const left = await guarded(restore, () =>
      wait(`${describeRef(t.workload)} in ${t.rc.cluster} to run ${after} pod(s)`, async () => {
        const pods = await podsOf(t);
        return pods.length <= after ? pods : undefined;
      }),
    );
    const gone = podsBefore.filter((p) => !left.some((q) => q.name === p.name)).map((p) => p.name);
    const whole =
      v.component === "sidecar" ? " (the sidecar is a container of that pod: its Prometheus went too)" : "";
    const pods = gone.map((pod) => ({ cluster: v.cluster, pod }));
    return {
      what: `${describeRef(t.scale)} in ${t.rc.cluster}: replicas ${before} → ${after}, pod ${gone.join(", ")} gone${whole}`,
      brokenPods: pods,
      removedPods: pods,
      async lift() {
        await restore();
        if (!signal.aborted) await readyAgain(t, before);
      },
    };
  };

  const restart = async (s: Scenario, v: Victim): Promise<Fault> => {
    const t = target(s, v);
    const live = await t.api.get(t.workload);
    if (!live) throw new Error(`${s.id}: ${describeRef(t.workload)} is not in context ${t.rc.context}`);
    const victims = (await podsOf(t)).filter((p) => !p.terminating && (!v.pod || p.name === v.pod));
    if (victims.length === 0)
      throw new Error(`${s.id}: ${describeRef(t.workload)} in ${t.rc.cluster} runs no pod`);
    for (const p of victims) await t.api.delete(podRef(p.name));
    const pods = victims.map((p) => ({ cluster: v.cluster, pod: p.name }));
    return {
      what: `deleted pod ${victims.map((p) => p.name).join(", ")} in ${t.rc.cluster} (its ${t.workload.kind} starts it again)`,
      brokenPods: pods,
      removedPods: pods,
      async lift() {
        if (!signal.aborted) await readyAgain(t, replicasOf(live), victims);
      },
    };
  };

  /**
   * The cluster's sidecar Services get a selector no pod matches: nothing outside reaches its sidecars, everything
   * in it runs. kube-proxy keeps a TCP connection opened before through its conntrack entry, so query's pods are
   * then restarted one at a time: the new ones can no longer connect.
   */
  const cutOff = async (s: Scenario): Promise<Fault> => {
    const cluster = s.victims[0]?.cluster as string;
    const w = topology.workloads.find((x) => x.name === cluster);
    if (!w) throw new Error(`${s.id}: ${cluster} is not a workload cluster`);
    const rc = clusterOf(cluster);
    const api = input.api(rc.context);
    const refs = w.replicaNames.map((_, i) => ({
      apiVersion: "v1",
      kind: "Service",
      namespace: NAMESPACE,
      name: sidecarServiceName(i),
    }));
    const saved = new Map<string, Record<string, string>>();
    for (const ref of refs) {
      const svc = await api.get(ref);
      if (!svc)
        throw new Error(
          `${s.id}: ${describeRef(ref)} is not in context ${rc.context}; run 'thanos-fleet up'`,
        );
      saved.set(ref.name, { ...((svc.spec as { selector?: Record<string, string> }).selector ?? {}) });
    }
    const restore = async () => {
      for (const ref of refs) await api.mergePatch(ref, { spec: { selector: { [CUT_OFF_KEY]: null } } });
    };
    for (const ref of refs) await api.mergePatch(ref, { spec: { selector: { [CUT_OFF_KEY]: "true" } } });
    const query = target(s, { cluster: topology.observer.name, component: "query" });
    const restarted: string[] = [];
    await guarded(restore, async () => {
      const live = await query.api.get(query.workload);
      if (!live)
        throw new Error(`${s.id}: ${describeRef(query.workload)} is not in context ${query.rc.context}`);
      const replicas = replicasOf(live);
      for (const p of await podsOf(query)) {
        if (p.terminating) continue;
        signal.throwIfAborted();
        await query.api.delete(podRef(p.name));
        restarted.push(p.name);
        await wait(`pod ${p.name} in ${query.rc.cluster} to be replaced by a ready one`, async () => {
          const pods = await podsOf(query);
          const up = pods.filter((x) => !x.terminating && x.ready);
          return !pods.some((x) => x.uid === p.uid) && up.length >= replicas ? true : undefined;
        });
      }
    });
    const names = refs.map((r) => r.name).join(", ");
    return {
      what:
        `Services ${names} in ${cluster} select no pod (sidecars unreachable from ${topology.observer.name}); ` +
        `query pods ${restarted.join(", ")} restarted to drop open connections`,
      brokenPods: w.replicaNames.map((pod) => ({ cluster, pod })),
      async lift() {
        await restore();
        if (signal.aborted) return;
        await wait(`the sidecar Services of ${cluster} to select their pods again`, async () => {
          for (const ref of refs) {
            const svc = await api.get(ref);
            const selector = (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
            if (
              JSON.stringify(Object.entries(selector).sort()) !==
              JSON.stringify(Object.entries(saved.get(ref.name) ?? {}).sort())
            )
              return undefined;
            const slices = await api.list("discovery.k8s.io/v1", "EndpointSlice", {
              namespace: NAMESPACE,
              labelSelector: `kubernetes.io/service-name=${ref.name}`,
            });
            const ready = slices.some((sl) =>
              ((sl.endpoints ?? []) as { conditions?: { ready?: boolean } }[]).some(
                (e) => e.conditions?.ready,
              ),
            );
            if (!ready) return undefined;
          }
          return true;
        });
      },
    };
  };

  return {
    /** Refuses a fleet that is already short of a replica or cut off (an earlier drill interrupted hard, say). */
    async check() {
      const problems: string[] = [];
      for (const w of topology.workloads) {
        const rc = clusterOf(w.name);
        const api = input.api(rc.context);
        const prom = await api.get(PROMETHEUS_REF);
        if (!prom) {
          problems.push(
            `${describeRef(PROMETHEUS_REF)} is not in context ${rc.context}: run 'thanos-fleet up'`,
          );
        } else if (replicasOf(prom) !== w.prometheus.replicas) {
          problems.push(
            `${describeRef(PROMETHEUS_REF)} in ${w.name} runs ${replicasOf(prom)} replica(s), fleet.yaml says ` +
              `${w.prometheus.replicas}: ${kubectl({ rc }, `patch prometheus ${PROMETHEUS_NAME} --type merge -p '{"spec":{"replicas":${w.prometheus.replicas}}}'`)}`,
          );
        }
        for (let i = 0; i < w.replicaNames.length; i++) {
          const ref = {
            apiVersion: "v1",
            kind: "Service",
            namespace: NAMESPACE,
            name: sidecarServiceName(i),
          };
          const svc = await api.get(ref);
          if (
            (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector?.[CUT_OFF_KEY] !==
            undefined
          ) {
            problems.push(
              `${describeRef(ref)} in ${w.name} is still cut off: ` +
                kubectl(
                  { rc },
                  `patch service ${ref.name} --type json -p '[{"op":"remove","path":"/spec/selector/${CUT_OFF_KEY.replace("/", "~1")}"}]'`,
                ),
            );
          }
        }
      }
      for (const rc of fleet.clusters) {
        const api = input.api(rc.context);
        for (const own of rc.manifests.filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment")) {
          const live = await api.get({
            apiVersion: own.apiVersion,
            kind: own.kind,
            namespace: NAMESPACE,
            name: own.metadata.name,
          });
          if (live && replicasOf(live) !== replicasOf(own)) {
            problems.push(
              `${own.kind} ${NAMESPACE}/${own.metadata.name} in ${rc.cluster} runs ${replicasOf(live)} replica(s) of ` +
                `${replicasOf(own)}: run 'thanos-fleet up'`,
            );
          }
        }
      }
      if (problems.length > 0) {
        throw new Error(
          `the fleet is not whole, so a drill would measure the wrong thing:\n  ${problems.join("\n  ")}`,
        );
      }
    },

    async inject(s: Scenario): Promise<Fault> {
      if (s.mode === "cut-off") return cutOff(s);
      if (s.mode === "rollout")
        throw new Error(`${s.id}: a rollout is drilled on the local runtime only so far`);
      const v = s.victims[0];
      if (!v || s.victims.length !== 1)
        throw new Error(`${s.id}: a Kubernetes fault breaks exactly one workload`);
      return s.mode === "down" ? down(s, v) : restart(s, v);
    },
  };
}
