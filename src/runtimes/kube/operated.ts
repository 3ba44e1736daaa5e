// The StatefulSets the Prometheus Operator makes from kube-prometheus-stack's Prometheus and Alertmanager resources.
// `helm --wait` does not cover them: `up` waits for them here and, when one is not ready, names the pod and why.
import type { KubeObject } from "../../render/types.ts";
import { describeRef, type KubeApi, refOf } from "./api.ts";
import { readiness } from "./apply.ts";
import { type Clock, formatDuration, pollUntil, WaitTimeoutError } from "./wait.ts";

const GROUP_VERSION = "monitoring.coreos.com/v1";
const OPERATED_KINDS = ["Prometheus", "Alertmanager"] as const;
/** Lines of a failing container's log shown in the error. */
const LOG_LINES = 20;
/** A crash loop with this many restarts is not going to settle by itself. */
const GIVE_UP_RESTARTS = 5;
/** Waiting reasons that no amount of waiting fixes. */
const HOPELESS = new Set(["ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError"]);

interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; terminated?: Terminated };
  lastState?: { terminated?: Terminated };
}
interface Terminated {
  reason?: string;
  exitCode?: number;
}
interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
}

/** Why one pod is not ready, and the container whose log says more. */
export interface PodTrouble {
  pod: string;
  text: string;
  container?: string;
  /** The container died before: its previous log is the one that explains. */
  previous?: boolean;
  /** Waiting longer will not help. */
  hopeless: boolean;
}

/** Reads a pod's status the way `kubectl describe` would sum it up; undefined when it is ready. */
export function podTrouble(pod: KubeObject): PodTrouble | undefined {
  const status = (pod.status ?? {}) as PodStatus;
  const name = pod.metadata.name;
  const ready = status.conditions?.find((c) => c.type === "Ready")?.status === "True";
  if (ready) return undefined;
  const unscheduled = status.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled) {
    return {
      pod: name,
      text: `not scheduled: ${unscheduled.message ?? unscheduled.reason}`,
      hopeless: false,
    };
  }
  const containers = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];
  for (const c of containers.filter((c) => !c.ready && c.state?.terminated?.reason !== "Completed")) {
    const waiting = c.state?.waiting;
    const last = c.lastState?.terminated ?? c.state?.terminated;
    const restarts = c.restartCount ?? 0;
    const parts = [
      waiting?.reason ?? (c.state?.terminated ? "terminated" : "running, not ready"),
      restarts > 0 ? `${restarts} restarts` : "",
      last ? `last exit: ${last.reason ?? "?"}, code ${last.exitCode ?? "?"}` : "",
      waiting?.message ?? "",
    ].filter(Boolean);
    const hopeless =
      HOPELESS.has(waiting?.reason ?? "") ||
      (waiting?.reason === "CrashLoopBackOff" && restarts >= GIVE_UP_RESTARTS);
    return {
      pod: name,
      text: `container ${c.name}: ${parts.join("; ")}`,
      container: c.name,
      previous: Boolean(c.lastState?.terminated),
      hopeless,
    };
  }
  return { pod: name, text: `phase ${status.phase ?? "unknown"}, not ready`, hopeless: false };
}

/** Where the operator's workloads stand: what is pending and why. */
interface Survey {
  /** Prometheus and Alertmanager resources found. */
  resources: number;
  pending: string[];
  troubles: PodTrouble[];
}

async function survey(api: KubeApi, namespace: string): Promise<Survey> {
  const statefulSets = await api.list("apps/v1", "StatefulSet", { namespace });
  const pending: string[] = [];
  const troubles: PodTrouble[] = [];
  let resources = 0;
  for (const kind of OPERATED_KINDS) {
    for (const resource of await api.list(GROUP_VERSION, kind, { namespace })) {
      resources++;
      const owned = statefulSets.filter((s) =>
        (s.metadata.ownerReferences as { kind: string; name: string }[] | undefined)?.some(
          (o) => o.kind === kind && o.name === resource.metadata.name,
        ),
      );
      if (owned.length === 0) {
        pending.push(`${describeRef(refOf(resource))} (the operator has made no StatefulSet for it yet)`);
        continue;
      }
      for (const sts of owned) {
        const r = readiness(sts);
        if (r.ready) continue;
        pending.push(`${describeRef(refOf(sts))} (${r.detail})`);
        const selector = (sts.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)
          ?.selector?.matchLabels;
        const labelSelector = Object.entries(selector ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(",");
        if (!labelSelector) continue;
        for (const pod of await api.list("v1", "Pod", { namespace, labelSelector })) {
          const trouble = podTrouble(pod);
          if (trouble) troubles.push(trouble);
        }
      }
    }
  }
  return { resources, pending, troubles };
}

async function logTail(api: KubeApi, namespace: string, t: PodTrouble): Promise<string> {
  if (!t.container) return "";
  const log = await api
    .podLog(namespace, t.pod, t.container, { previous: t.previous ?? false, tailLines: LOG_LINES })
    .catch(() => undefined);
  if (!log?.trim()) return "";
  const which = t.previous ? "log before its last restart" : "log";
  return `\n  ${t.pod} ${t.container} ${which} (last ${LOG_LINES} lines):\n${log
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}`;
}

async function explain(api: KubeApi, namespace: string, s: Survey, headline: string): Promise<Error> {
  const tails = await Promise.all(s.troubles.map((t) => logTail(api, namespace, t)));
  const lines = [
    headline,
    ...s.pending.map((p) => `  not ready: ${p}`),
    ...s.troubles.map((t, i) => `  pod ${namespace}/${t.pod}: ${t.text}${tails[i]}`),
    `  see 'kubectl --context ${api.context} -n ${namespace} describe pods' and its events`,
  ];
  return new Error(lines.join("\n"));
}

/**
 * Waits until every StatefulSet the operator made for a Prometheus or Alertmanager resource in namespace is ready.
 * Each change of a pod's trouble is told through onChange while it waits. A pod that cannot recover by waiting
 * (an image that may not be pulled, a crash loop past five restarts) ends the wait at once; either way the error
 * names the pod, its container's state and last exit, and the tail of its log.
 */
export async function waitOperated(
  api: KubeApi,
  namespace: string,
  opts: { clock: Clock; signal?: AbortSignal; timeoutMs: number; onChange?: (line: string) => void },
): Promise<void> {
  const told = new Map<string, string>();
  let last: Survey = { resources: 0, pending: [], troubles: [] };
  try {
    await pollUntil(
      opts.clock,
      async () => {
        last = await survey(api, namespace);
        for (const t of last.troubles) {
          if (told.get(t.pod) === t.text) continue;
          told.set(t.pod, t.text);
          opts.onChange?.(`pod ${t.pod}: ${t.text}`);
        }
        if (last.troubles.some((t) => t.hopeless)) {
          throw await explain(
            api,
            namespace,
            last,
            `a pod of the Prometheus Operator's workloads in context ${api.context} cannot become ready:`,
          );
        }
        return last.resources > 0 && last.pending.length === 0 ? true : undefined;
      },
      {
        timeoutMs: opts.timeoutMs,
        intervalMs: 3000,
        signal: opts.signal,
        what: () => "the Prometheus Operator's workloads",
      },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    if (last.resources === 0) {
      throw new Error(
        `no Prometheus or Alertmanager resource in namespace ${namespace} of context ${api.context}: ` +
          `kube-prometheus-stack made none; see 'helm --kube-context ${api.context} -n ${namespace} get manifest kube-prometheus-stack'`,
      );
    }
    const waited = formatDuration(opts.timeoutMs);
    throw await explain(api, namespace, last, `not ready in context ${api.context} after ${waited}:`);
  }
}

/**
 * When the cluster's Prometheus was last made from nothing: the creation time of the newest StatefulSet the operator
 * owns for a Prometheus resource in namespace (ISO 8601, UTC), or undefined when there is none. Pods restarted or killed keep
 * it (a hole they leave is a fault); `down` and `up` again, or the operator replacing its StatefulSet, move it (a hole
 * before it is the time the cluster had no Prometheus).
 */
export async function prometheusMadeAt(api: KubeApi, namespace: string): Promise<string | undefined> {
  const resources = await api.list(GROUP_VERSION, "Prometheus", { namespace });
  const statefulSets = await api.list("apps/v1", "StatefulSet", { namespace });
  const owned = statefulSets.filter((s) =>
    (s.metadata.ownerReferences as { kind: string; name: string }[] | undefined)?.some(
      (o) => o.kind === "Prometheus" && resources.some((r) => r.metadata.name === o.name),
    ),
  );
  // The client hands the time over as a Date; a fake or a raw answer as its RFC 3339 text.
  const times = owned
    .map((s) => (s.metadata as { creationTimestamp?: unknown }).creationTimestamp)
    .map((t) => (t instanceof Date || typeof t === "string" ? new Date(t).getTime() : Number.NaN))
    .filter((t) => !Number.isNaN(t))
    .sort((a, b) => a - b);
  const newest = times.at(-1);
  return newest === undefined ? undefined : new Date(newest).toISOString();
}
