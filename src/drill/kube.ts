// Faults on Kubernetes, through the API server only: a replica held down by scaling its workload down by one (a
// Prometheus through its operator's resource, the only place its replica count may change), a whole workload scaled
// to zero, a pod deleted for its controller to start again, a cluster's sidecars or mgmt's receive routers cut off by
// emptying the Services that expose them, and a StatefulSet's pods replaced one at a time by its controller (a
// rollout, as `kubectl rollout restart` starts one). Lifting writes back exactly the values read before the fault.
import { NAMESPACE } from "../components/context.ts";
import { PROMETHEUS_WORKLOAD } from "../components/prometheus.ts";
import { sidecarServiceName } from "../components/thanos/sidecar.ts";
import { podName } from "../components/types.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "../render/types.ts";
import { COMPONENT_LABEL } from "../render/workloads.ts";
import { describeRef, type KubeApi, type ObjectRef } from "../runtimes/kube/api.ts";
import { GRAFANA_DEPLOYMENT, type RotationReport } from "../runtimes/kube/certs.ts";
import { type Clock, pollUntil, realClock } from "../runtimes/kube/wait.ts";
import { PROMETHEUS_NAME, type Topology } from "../topology/topology.ts";
import type { Fault, Faults } from "./run.ts";
import type { Scenario, Victim } from "./scenarios.ts";

/** The selector key a cut-off adds to a sidecar Service: no pod carries it, so the Service has no endpoint. */
export const CUT_OFF_KEY = "thanos-fleet.io/drill-cut-off";

/** The pod template annotation a rollout sets, the one `kubectl rollout restart` sets: a new revision, same spec. */
export const RESTARTED_AT_KEY = "kubectl.kubernetes.io/restartedAt";

interface StatefulSetStatus {
  currentRevision?: string;
  updateRevision?: string;
  updatedReplicas?: number;
  availableReplicas?: number;
}

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
  /** `certs rotate` on this fleet (KubeRuntime.rotateCerts): the cert-rotation scenario's fault. */
  rotateCerts?: (progress: (line: string) => void) => Promise<RotationReport>;
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
    const removed = podName(t.workload.name, before - 1);
    if (v.pod && t.workload.kind === "StatefulSet" && v.pod !== removed) {
      throw new Error(
        `${s.id}: ${describeRef(t.scale)} in ${t.rc.cluster} runs ${before} replica(s), so scaling it down removes ` +
          `${removed}, not ${v.pod}; fleet.yaml and the cluster disagree: run 'thanos-fleet up'`,
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
   * What a cut-off empties and whose pods it then restarts. kube-proxy keeps a TCP connection opened before through
   * its conntrack entry, so the pods at one end of the open connections are restarted one at a time: a cluster's
   * sidecars are cut off from query, whose new pods can no longer connect; mgmt's receive routers from the clusters
   * that write to them, so the routers themselves are restarted (the writers are the other clusters' Prometheus,
   * whose restart would be a fault of its own) and their writers' reconnections find no endpoint.
   */
  const cutOffPlan = (
    s: Scenario,
    v: Victim,
  ): { rc: RenderedCluster; refs: ObjectRef[]; restart: Target; sidecarPods?: string[] } => {
    const rc = clusterOf(v.cluster);
    const service = (name: string) => ({ apiVersion: "v1", kind: "Service", namespace: NAMESPACE, name });
    if (v.component === "sidecar") {
      const w = topology.workloads.find((x) => x.name === v.cluster);
      if (!w) throw new Error(`${s.id}: ${v.cluster} is not a workload cluster`);
      const refs = w.replicaNames.map((_, i) => service(sidecarServiceName(i)));
      const restart = target(s, { cluster: topology.observer.name, component: "query" });
      return { rc, refs, restart, sidecarPods: w.replicaNames };
    }
    const routers = target(s, v);
    const live = rc.manifests.find(
      (o) => o.kind === routers.workload.kind && o.metadata.name === routers.workload.name,
    );
    const pods = (live?.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
      ?.matchLabels;
    const selects = (o: KubeObject) => {
      const spec = o.spec as { type?: string; selector?: Record<string, string> } | undefined;
      return (
        (spec?.type === "NodePort" || spec?.type === "LoadBalancer") &&
        JSON.stringify(spec.selector) === JSON.stringify(pods)
      );
    };
    const refs = rc.manifests
      .filter((o) => o.kind === "Service" && selects(o))
      .map((o) => service(o.metadata.name));
    if (refs.length === 0)
      throw new Error(`${s.id}: no Service exposes ${v.component} outside ${v.cluster}: nothing to cut off`);
    return { rc, refs, restart: routers };
  };

  /** The victim's Services get a selector no pod matches: nothing outside reaches it, everything runs. */
  const cutOff = async (s: Scenario): Promise<Fault> => {
    const v = s.victims[0];
    if (!v || s.victims.length !== 1) throw new Error(`${s.id}: a cut-off names exactly one victim`);
    const { rc, refs, restart, sidecarPods } = cutOffPlan(s, v);
    const api = input.api(rc.context);
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
    const restarted: string[] = [];
    await guarded(restore, async () => {
      const live = await restart.api.get(restart.workload);
      if (!live)
        throw new Error(`${s.id}: ${describeRef(restart.workload)} is not in context ${restart.rc.context}`);
      const replicas = replicasOf(live);
      for (const p of await podsOf(restart)) {
        if (p.terminating) continue;
        signal.throwIfAborted();
        await restart.api.delete(podRef(p.name));
        restarted.push(p.name);
        await wait(`pod ${p.name} in ${restart.rc.cluster} to be replaced by a ready one`, async () => {
          const pods = await podsOf(restart);
          const up = pods.filter((x) => !x.terminating && x.ready);
          return !pods.some((x) => x.uid === p.uid) && up.length >= replicas ? true : undefined;
        });
      }
    });
    const names = refs.map((r) => r.name).join(", ");
    const sidecars = sidecarPods !== undefined;
    return {
      what:
        `Services ${names} in ${v.cluster} select no pod ` +
        (sidecars
          ? `(sidecars unreachable from ${topology.observer.name}); query pods ${restarted.join(", ")} restarted to drop open connections`
          : `(${v.component} unreachable from outside ${v.cluster}); its pods ${restarted.join(", ")} restarted to drop open connections`),
      // The sidecars' pods, or the routers: those replaced by the restart are new pods, the old ones gone.
      brokenPods: sidecars
        ? sidecarPods.map((pod) => ({ cluster: v.cluster, pod }))
        : restarted.map((pod) => ({ cluster: v.cluster, pod })),
      ...(sidecars ? {} : { removedPods: restarted.map((pod) => ({ cluster: v.cluster, pod })) }),
      async lift() {
        await restore();
        if (signal.aborted) return;
        await wait(`the Services ${names} of ${v.cluster} to select their pods again`, async () => {
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

  /**
   * The StatefulSet's pod template gets a new restartedAt: its controller replaces the pods one at a time, highest
   * ordinal first, each next one once the last has been ready for the StatefulSet's minReadySeconds. The course ends
   * when every pod is new and the StatefulSet reports the rollout done; nothing is written back (the annotation is
   * the new revision, as after `kubectl rollout restart`). Interrupted, the controller finishes what it began.
   */
  const rollout = async (s: Scenario): Promise<Fault> => {
    const first = s.victims[0];
    if (!first || s.victims.some((v) => v.cluster !== first.cluster || v.component !== first.component))
      throw new Error(`${s.id}: a rollout on Kubernetes replaces the pods of one workload`);
    const t = target(s, first);
    if (t.workload.kind !== "StatefulSet")
      throw new Error(
        `${s.id}: ${describeRef(t.workload)} is not a StatefulSet: only a StatefulSet rolls in order`,
      );
    const live = await t.api.get(t.workload);
    if (!live) throw new Error(`${s.id}: ${describeRef(t.workload)} is not in context ${t.rc.context}`);
    const replicas = replicasOf(live);
    const minReady = (live.spec as { minReadySeconds?: number } | undefined)?.minReadySeconds ?? 0;
    const before = (await podsOf(t)).filter((p) => !p.terminating);
    const started = clock.now();
    await t.api.mergePatch(t.workload, {
      spec: {
        template: { metadata: { annotations: { [RESTARTED_AT_KEY]: new Date(started).toISOString() } } },
      },
    });
    const readyAt = new Map<string, number>();
    const order = s.victims.map((v) => v.pod);
    const course = pollUntil(
      clock,
      async () => {
        for (const p of await podsOf(t)) {
          const fresh = !p.terminating && !before.some((o) => o.uid === p.uid);
          if (fresh && p.ready && !readyAt.has(p.name)) readyAt.set(p.name, clock.now() - started);
        }
        const status = ((await t.api.get(t.workload))?.status ?? {}) as StatefulSetStatus;
        const done =
          readyAt.size === replicas &&
          status.updateRevision !== undefined &&
          status.currentRevision === status.updateRevision &&
          status.updatedReplicas === replicas &&
          status.availableReplicas === replicas;
        if (!done) return undefined;
        return (
          [...readyAt]
            // Seen in one poll: in the order the controller replaces them, the scenario's.
            .sort((a, b) => a[1] - b[1] || order.indexOf(a[0]) - order.indexOf(b[0]))
            .map(([pod, ms]) => `${pod} ready again ${Math.round(ms / 1000)} s after the start`)
            .join("; ")
        );
      },
      {
        // Each pod: its graceful stop, its start, its readiness and minReadySeconds.
        timeoutMs: timeoutMs * Math.max(1, replicas),
        intervalMs,
        signal,
        what: () => `waited for every pod of ${describeRef(t.workload)} in ${t.rc.cluster} to be replaced`,
      },
    );
    return {
      what:
        `${describeRef(t.workload)} in ${t.rc.cluster}: a new pod template revision (${RESTARTED_AT_KEY}); its ` +
        `controller replaces ${before.map((p) => p.name).join(", ")} one at a time, minReadySeconds ${minReady}`,
      brokenPods: s.victims.map((v) => ({ cluster: v.cluster, pod: v.pod ?? "" })),
      course,
      async lift() {
        await course.catch(() => {});
      },
    };
  };

  /** Every pod of the fleet's namespace in each cluster, by name: its uid and restarts, to tell a restart. */
  const podLives = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const rc of fleet.clusters) {
      for (const p of await input.api(rc.context).list("v1", "Pod", { namespace: NAMESPACE })) {
        const st = p.status as { containerStatuses?: { restartCount?: number }[] } | undefined;
        const restarts = (st?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
        out.set(`${rc.cluster}/${p.metadata.name}`, `${String(p.metadata.uid)}/${restarts}`);
      }
    }
    return out;
  };

  /**
   * `certs rotate` on the running fleet: every server's certificate renewed on its own key and written into its
   * Secret in place, waited for until every server pod presents it. Checked once done: every pod presented its new
   * certificate, and no pod of the fleet was made again or restarted.
   */
  const rotation = async (): Promise<Fault> => {
    const rotate = input.rotateCerts;
    if (!rotate)
      throw new Error("cert-rotation: this fleet's runtime was given no way to rotate certificates");
    const before = await podLives();
    const r = await rotate(() => {});
    const slowest = Math.max(0, ...r.pods.map((p) => p.afterMs ?? 0));
    return {
      what:
        `renewed ${r.renewed.length} server certificates, ${r.clients.length} client certificates and ` +
        `${r.storage.length} of the storage cluster, wrote ` +
        `${r.secrets.length} Secrets in place (and ${r.renewedObjects.length} objects holding a client or storage certificate); ` +
        `${r.pods.filter((p) => p.presented).length}/${r.pods.length} server pods presented the new one, the last after ` +
        `${(slowest / 1000).toFixed(0)} s`,
      brokenPods: [],
      async lift() {},
      async check() {
        const after = await podLives();
        // Grafana is restarted on purpose where its client certificate changed: it reads it only when it provisions.
        const grafana = (name: string) =>
          r.grafanaRestarted.some((c) => name.startsWith(`${c}/${GRAFANA_DEPLOYMENT}-`));
        const restarted = [...before]
          .filter(([name, life]) => after.get(name) !== life && !grafana(name))
          .map(([name]) => name);
        const stale = r.pods.filter((p) => !p.presented).map((p) => p.pod);
        const ok =
          r.renewed.length > 0 &&
          r.clients.length > 0 &&
          r.pods.length > 0 &&
          stale.length === 0 &&
          restarted.length === 0;
        const detail =
          `${r.clients.length} client certificates renewed (${r.clients.map((c) => c.name).join(", ") || "none"})` +
          (r.grafanaRestarted.length > 0 ? `, Grafana restarted in ${r.grafanaRestarted.join(", ")}` : "") +
          `; ${r.renewed.length} servers: ${r.pods.length - stale.length}/${r.pods.length} pods present the new certificate ` +
          `(the last after ${(slowest / 1000).toFixed(0)} s)` +
          (stale.length > 0 ? `; still the old or none: ${stale.join(", ")}` : "") +
          (restarted.length > 0
            ? `; made again or restarted: ${restarted.join(", ")}`
            : `; none of ${before.size} pods restarted`);
        return { ok, detail };
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
      }
      for (const rc of fleet.clusters) {
        const api = input.api(rc.context);
        for (const own of rc.manifests.filter((o) => o.kind === "Service")) {
          const ref = { apiVersion: "v1", kind: "Service", namespace: NAMESPACE, name: own.metadata.name };
          const svc = await api.get(ref);
          if (
            (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector?.[CUT_OFF_KEY] !==
            undefined
          ) {
            problems.push(
              `${describeRef(ref)} in ${rc.cluster} is still cut off: ` +
                kubectl(
                  { rc },
                  `patch service ${ref.name} --type json -p '[{"op":"remove","path":"/spec/selector/${CUT_OFF_KEY.replace("/", "~1")}"}]'`,
                ),
            );
          }
        }
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
      if (s.mode === "rollout") return rollout(s);
      if (s.mode === "rotate-certs") return rotation();
      const v = s.victims[0];
      if (!v || s.victims.length !== 1)
        throw new Error(`${s.id}: a Kubernetes fault breaks exactly one workload`);
      return s.mode === "down" ? down(s, v) : restart(s, v);
    },
  };
}
