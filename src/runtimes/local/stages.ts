// How the local fleet starts, stage by stage: each stage's title, its pods started concurrently, and the wait for
// its load balancers to route to them.
import { setTimeout as sleep } from "node:timers/promises";
import { serverStates } from "./haproxy.ts";
import { type LocalPlan, type ProcessPlan, STAGE } from "./processes.ts";

/** The status line of a stage: its clusters and what it starts. */
export function stageTitle(stage: number, processes: ProcessPlan[]): string {
  const clusters = [...new Set(processes.map((p) => p.cluster))].join(", ");
  const count = (c: string) => processes.filter((p) => p.component === c).length;
  const parts = [...new Set(processes.map((p) => p.component))].map((c) =>
    count(c) > 1 ? `${c} ×${count(c)}` : c,
  );
  const what = stage === STAGE.loadBalancer ? "load balancers (HAProxy)" : parts.join(", ");
  return `${clusters}: ${what}`;
}

/** Groups a stage's processes by pod: pods start concurrently, the containers of one pod in order. */
export function byPod(processes: ProcessPlan[]): ProcessPlan[][] {
  const pods = new Map<string, ProcessPlan[]>();
  for (const p of processes) {
    const key = `${p.cluster}/${p.pod}`;
    pods.set(key, [...(pods.get(key) ?? []), p]);
  }
  return [...pods.values()];
}

/**
 * Waits until each load balancer routes to the pods just started (a Service answers only through ready endpoints),
 * every endpoint of those pods UP. A pod's other processes count too:
 * a sidecar that kept running while its Prometheus was restarted reports ready again only at its next look at
 * Prometheus, every 30 s (`--prometheus.get_config_interval`), so the wait outlasts that interval.
 */
export async function waitForEndpoints(
  plan: LocalPlan,
  processes: ProcessPlan[],
  signal: AbortSignal,
  timeoutMs = 45_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const [cluster, socket] of plan.statsSockets) {
    const pods = new Set(
      processes.filter((p) => p.cluster === cluster && p.component !== "load-balancer").map((p) => p.pod),
    );
    if (pods.size === 0) continue;
    for (;;) {
      const states = await serverStates(socket);
      const waiting = [...states].filter(([name, st]) => pods.has(name.split("/")[1] ?? "") && st !== "UP");
      if (waiting.length === 0) break;
      if (Date.now() > deadline) {
        const list = waiting.map(([name, st]) => `${name} ${st}`).join(", ");
        throw new Error(
          `cluster ${cluster}: the load balancer still sees these endpoints not ready: ${list}`,
        );
      }
      await sleep(50, undefined, { signal });
    }
  }
}
