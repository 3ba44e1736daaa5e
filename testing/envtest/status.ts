// Stands in for the kubelet and the controller-manager, as far as status goes: a control plane without them never
// reports a rollout done or a Job complete, so this reports each Deployment and StatefulSet rolled out and each Job
// complete once it exists, through the status subresource; optionally it also plays a load-balancer controller
// (MetalLB, cloud-provider-kind) that gives each LoadBalancer Service an address. No pod runs; this only lets a
// caller's waits end.

import { setTimeout as sleep } from "node:timers/promises";
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig, type V1Job } from "@kubernetes/client-node";

export interface StatusReporter {
  /** "Kind namespace/name" of every object given a status so far, in order. */
  readonly reported: string[];
  stop(): Promise<void>;
}

function jobStatus(job: V1Job, now: Date): V1Job["status"] {
  const completions = job.spec?.completions ?? 1;
  const condition = (type: string) => ({
    type,
    status: "True",
    reason: "CompletionsReached",
    message: "Reached expected number of succeeded pods",
    lastProbeTime: now,
    lastTransitionTime: now,
  });
  return {
    startTime: now,
    completionTime: now,
    succeeded: completions,
    active: 0,
    ready: 0,
    terminating: 0,
    uncountedTerminatedPods: {},
    conditions: [condition("SuccessCriteriaMet"), condition("Complete")],
  };
}

export interface StatusReporterOptions {
  intervalMs?: number;
  /** Gives LoadBalancer Services addresses `<prefix><n>`, n from 1 (e.g. "172.18.255."); default: none, as on kind. */
  loadBalancerPrefix?: string;
}

/** Polls every `intervalMs` (default 100) until stop(); a conflict (the object changed meanwhile) waits for the next round. */
export function startStatusReporter(kc: KubeConfig, opts: StatusReporterOptions = {}): StatusReporter {
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  let nextAddress = 1;
  const reported: string[] = [];
  const ignoreConflict = (err: unknown) => {
    const code = (err as { code?: number }).code;
    if (code !== 409 && code !== 404) throw err;
  };

  const round = async (): Promise<void> => {
    for (const d of (await apps.listDeploymentForAllNamespaces()).items) {
      const want = d.spec?.replicas ?? 1;
      const gen = d.metadata?.generation;
      const s = d.status;
      if (s?.observedGeneration === gen && s?.readyReplicas === want && s?.updatedReplicas === want) continue;
      d.status = {
        observedGeneration: gen,
        replicas: want,
        readyReplicas: want,
        updatedReplicas: want,
        availableReplicas: want,
      };
      const { name = "", namespace = "" } = d.metadata ?? {};
      await apps
        .replaceNamespacedDeploymentStatus({ name, namespace, body: d })
        .then(() => reported.push(`Deployment ${namespace}/${name}`), ignoreConflict);
    }
    for (const st of (await apps.listStatefulSetForAllNamespaces()).items) {
      const want = st.spec?.replicas ?? 1;
      const gen = st.metadata?.generation;
      const s = st.status;
      if (s?.observedGeneration === gen && s?.readyReplicas === want && s?.updatedReplicas === want) continue;
      const revision = `${st.metadata?.name}-${gen}`;
      st.status = {
        observedGeneration: gen,
        replicas: want,
        readyReplicas: want,
        currentReplicas: want,
        updatedReplicas: want,
        availableReplicas: want,
        currentRevision: revision,
        updateRevision: revision,
      };
      const { name = "", namespace = "" } = st.metadata ?? {};
      await apps
        .replaceNamespacedStatefulSetStatus({ name, namespace, body: st })
        .then(() => reported.push(`StatefulSet ${namespace}/${name}`), ignoreConflict);
    }
    if (opts.loadBalancerPrefix !== undefined) {
      for (const svc of (await core.listServiceForAllNamespaces()).items) {
        if (svc.spec?.type !== "LoadBalancer" || svc.status?.loadBalancer?.ingress?.length) continue;
        svc.status = {
          loadBalancer: { ingress: [{ ip: `${opts.loadBalancerPrefix}${nextAddress}`, ipMode: "VIP" }] },
        };
        const { name = "", namespace = "" } = svc.metadata ?? {};
        await core.replaceNamespacedServiceStatus({ name, namespace, body: svc }).then(() => {
          nextAddress++;
          reported.push(`Service ${namespace}/${name}`);
        }, ignoreConflict);
      }
    }
    for (const job of (await batch.listJobForAllNamespaces()).items) {
      if (job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")) continue;
      job.status = jobStatus(job, new Date());
      const { name = "", namespace = "" } = job.metadata ?? {};
      await batch
        .replaceNamespacedJobStatus({ name, namespace, body: job })
        .then(() => reported.push(`Job ${namespace}/${name}`), ignoreConflict);
    }
  };

  const loop = repeatUntilStopped(round, opts.intervalMs ?? 100, "the status reporter");

  return { reported, stop: loop.stop };
}

/**
 * Runs `round` every `intervalMs` until stop(). A round that fails is kept for stop() to report, and tried again: a
 * write the API server refuses shows up as a wait that never ends, so the cause must come out. Errors after stop()
 * (the control plane going away) do not count.
 */
export function repeatUntilStopped(
  round: () => Promise<void>,
  intervalMs: number,
  what: string,
): { stop(): Promise<void> } {
  let running = true;
  let failure: unknown;
  const loop = (async () => {
    while (running) {
      try {
        await round();
      } catch (err) {
        if (running) failure = err;
      }
      if (running) await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (failure) throw new Error(`${what} failed`, { cause: failure });
    },
  };
}
