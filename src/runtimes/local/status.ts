// What a running local fleet reports: each process (pid, address, ready, restarts, state), the supervisor, and the
// endpoints verify checks, all read from the state `up` wrote.
import type { FleetEndpoints } from "../../endpoints.ts";
import type { Topology } from "../../topology/topology.ts";
import type { ProcessStatus } from "../runtime.ts";
import { hasExited } from "./proc.ts";
import { localRoot, speaksHttps } from "./processes.ts";
import { type ProcessRecord, readHolds, readState, type UrlRow } from "./state.ts";
import { processState, supervisorRunning } from "./supervise.ts";
import { isReady, logTail } from "./supervisor.ts";

export async function localStatus(topology: Topology, opts: { stateDir: string }): Promise<ProcessStatus[]> {
  const state = await readState(localRoot(opts.stateDir));
  if (!state) return [];
  // Clusters in fleet.yaml order, each with its load balancer first, then its pods by name.
  const clusterOrder = (c: string) => {
    const i = topology.fleet.clusters.findIndex((x) => x.name === c);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const key = (r: ProcessRecord) =>
    [clusterOrder(r.cluster), r.component === "load-balancer" ? 0 : 1, r.pod] as const;
  const records = [...state.processes].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2].localeCompare(y[2]);
  });
  const root = localRoot(opts.stateDir);
  const holds = new Set(await readHolds(root));
  const rows = await Promise.all(records.map((r) => statusOf(r, state.urls, holds)));
  const supervisor = await supervisorRunning(root);
  rows.push({
    cluster: "-",
    component: "supervisor",
    pod: "supervisor",
    ...(supervisor ? { pid: supervisor.pid } : {}),
    address: "-",
    ready: supervisor !== undefined,
    restarts: 0,
    state: supervisor
      ? "running"
      : "not running: dead processes stay dead; 'thanos-fleet up --runtime local' starts it again",
    urls: {},
  });
  return rows;
}

export async function localEndpoints(
  _topology: Topology,
  opts: { stateDir: string },
): Promise<FleetEndpoints> {
  const root = localRoot(opts.stateDir);
  const state = await readState(root);
  if (!state) {
    throw new Error(
      `no local fleet is recorded in ${root}; start one with 'thanos-fleet up --runtime local'`,
    );
  }
  const holds = new Set(await readHolds(root));
  const supervisor = await supervisorRunning(root);
  return {
    ...state.endpoints,
    upSince: state.startedAt,
    supervisor: {
      running: supervisor !== undefined,
      ...(supervisor ? { pid: supervisor.pid } : {}),
      held: state.processes
        .filter((r) => holds.has(r.id))
        .map((r) => ({ cluster: r.cluster, pod: r.pod, container: r.container, component: r.component })),
    },
  };
}

async function statusOf(
  r: ProcessRecord,
  exposed: UrlRow[],
  holds: ReadonlySet<string>,
): Promise<ProcessStatus> {
  const running = !hasExited(r);
  const state = processState(r, holds);
  const urls: Record<string, string> = {};
  for (const p of r.ports) {
    const scheme = speaksHttps(r.readiness) ? "https" : "http";
    urls[p.name] = p.protocol === "http" ? `${scheme}://${r.ip}:${p.port}` : `${r.ip}:${p.port}`;
  }
  // A cluster's load balancer serves its NodePorts: the URLs a person opens.
  if (r.component === "load-balancer") {
    for (const u of exposed.filter((x) => x.cluster === r.cluster)) urls[u.what] = u.url;
  }
  const address =
    r.component === "load-balancer" && r.readiness.kind === "tcp"
      ? `${r.ip} (${r.readiness.addresses.length} frontends)`
      : `${r.ip}:${r.ports.map((p) => p.port).join(",")}`;
  return {
    cluster: r.cluster,
    component: r.component,
    pod: r.pod,
    ...(running ? { pid: r.pid } : {}),
    address,
    ready: running && (await isReady(r.readiness)),
    restarts: r.restarts ?? 0,
    state,
    ...(r.lastExit ? { lastExit: r.lastExit } : {}),
    ...(state.startsWith("CrashLoopBackOff") ? { logTail: logTail(r.log, 10) } : {}),
    urls,
  };
}
