// The local runtime: the whole fleet as real processes on loopback addresses, no container engine.
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import { ensureStateDir } from "../../state/dir.ts";
import { loadFleetCredentials } from "../../state/objectstore-key.ts";
import { loadGrpcTls } from "../../state/tls.ts";
import type { Topology } from "../../topology/topology.ts";
import { step } from "../../ui/reporter.ts";
import { table } from "../../ui/table.ts";
import type { ProcessStatus, Reporter, Runtime, UpOptions } from "../runtime.ts";
import { fetchBinaries, missingBinaries, resolveExecutables } from "./binaries.ts";
import { prepareBuckets } from "./bucket.ts";
import { serverStates } from "./haproxy.ts";
import { DEFAULT_SUBNET, parseSubnet, SUBNET_ENV } from "./network.ts";
import {
  type LocalOptions,
  type LocalPlan,
  listenAddresses,
  localRoot,
  type ProcessPlan,
  planLocalFleet,
  STAGE,
} from "./plan.ts";
import { describeUnbindable, stillOpen, unbindable } from "./ports.ts";
import { isSameProcess } from "./proc.ts";
import { fleetEndpoints, urlTable } from "./report.ts";
import {
  type FleetState,
  type ProcessRecord,
  readState,
  removeState,
  type UrlRow,
  writeState,
} from "./state.ts";
import { isReady, startProcess, stopProcesses } from "./supervisor.ts";

export type { LocalOptions } from "./plan.ts";

export const BLOCK_DURATION_ENV = "THANOS_FLEET_LOCAL_BLOCK_DURATION";
export const SYNC_INTERVAL_ENV = "THANOS_FLEET_LOCAL_SYNC_INTERVAL";

/**
 * Short TSDB blocks by default: Prometheus cuts a block every 2 minutes and the sidecars ship it, so store
 * gateway, bucket web and compactor have data within minutes of `up` instead of hours. 2h is what production uses.
 */
export const DEFAULT_BLOCK_DURATION = "2m";
export const DEFAULT_SYNC_INTERVAL = "15s";

const DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;

export interface LocalRuntimeOptions extends Partial<LocalOptions> {
  /** How long one process may take to answer its readiness endpoint. */
  readyTimeoutMs?: number;
  /** How long `down` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

function duration(value: string, source: string): string {
  if (!DURATION.test(value))
    throw new Error(`${source}=${JSON.stringify(value)} is not a duration such as 2m or 2h`);
  return value;
}

/**
 * A first verify right after `up`: waits briefly for discovery to settle; checks that need shipped blocks stay
 * pending, and `thanos-fleet verify --runtime local --wait 5m` proves them a few block durations later.
 */
async function verifyAfterUp(
  topology: Topology,
  endpoints: FleetEndpoints,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<void> {
  const [{ verifyFleetUntil }, { formatReport }, { waitProgress }] = await Promise.all([
    import("../../verify/wait.ts"),
    import("../../verify/report.ts"),
    import("../../verify/progress.ts"),
  ]);
  const onProgress = waitProgress({ write: (t) => reporter.info(t.replace(/\n$/, "")), isTTY: false });
  const report = await step(reporter, "verify the fleet", () =>
    verifyFleetUntil(topology, endpoints, { waitMs: 60_000, signal, onProgress }),
  );
  reporter.info(formatReport(report));
  if (report.summary.pending > 0) {
    reporter.info("pending checks need shipped blocks: run 'thanos-fleet verify --runtime local --wait 5m'");
  }
}

/** Options given in code win over the environment, which wins over fleet.yaml's `blocks`, then the defaults. */
export function resolveLocalOptions(
  given: Partial<LocalOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
  blocks: { duration?: string; syncInterval?: string } = {},
): LocalOptions {
  return {
    subnet: given.subnet
      ? parseSubnet(given.subnet, "subnet")
      : parseSubnet(env[SUBNET_ENV] ?? DEFAULT_SUBNET),
    blockDuration: duration(
      given.blockDuration ?? env[BLOCK_DURATION_ENV] ?? blocks.duration ?? DEFAULT_BLOCK_DURATION,
      BLOCK_DURATION_ENV,
    ),
    bucketSyncInterval: duration(
      given.bucketSyncInterval ?? env[SYNC_INTERVAL_ENV] ?? blocks.syncInterval ?? DEFAULT_SYNC_INTERVAL,
      SYNC_INTERVAL_ENV,
    ),
  };
}

export function formatUrls(rows: UrlRow[]): string {
  return table(
    ["WHAT", "CLUSTER", "URL"],
    rows.map((r) => [r.what, r.cluster, r.url]),
  );
}

function stageTitle(stage: number, processes: ProcessPlan[]): string {
  const clusters = [...new Set(processes.map((p) => p.cluster))].join(", ");
  const count = (c: string) => processes.filter((p) => p.component === c).length;
  const parts = [...new Set(processes.map((p) => p.component))].map((c) =>
    count(c) > 1 ? `${c} ×${count(c)}` : c,
  );
  const what = stage === STAGE.loadBalancer ? "load balancers (HAProxy)" : parts.join(", ");
  return `${clusters}: ${what}`;
}

/** Groups a stage's processes by pod: pods start concurrently, the containers of one pod in order. */
function byPod(processes: ProcessPlan[]): ProcessPlan[][] {
  const pods = new Map<string, ProcessPlan[]>();
  for (const p of processes) {
    const key = `${p.cluster}/${p.pod}`;
    pods.set(key, [...(pods.get(key) ?? []), p]);
  }
  return [...pods.values()];
}

async function alive(state: FleetState): Promise<{ running: ProcessRecord[]; dead: ProcessRecord[] }> {
  const running = state.processes.filter((r) => isSameProcess(r));
  return { running, dead: state.processes.filter((r) => !running.includes(r)) };
}

/** Waits until each load balancer routes to the pods just started: a Service answers only through ready endpoints. */
async function waitForEndpoints(
  plan: LocalPlan,
  processes: ProcessPlan[],
  signal: AbortSignal,
  timeoutMs = 15_000,
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

/**
 * The local runtime runs SeaweedFS. MinIO is never built here (AGPL), and even with a MinIO binary of the user's own
 * (binaries.minio), Thanos's bucket-scoped key could only be made through MinIO's admin API, whose request bodies
 * only madmin-go (AGPL) encrypts: refused, before anything is created.
 */
export function checkLocalStorage(topology: Topology): void {
  const storage = topology.storage;
  if (storage?.server !== "minio") return;
  const where = `clusters[${topology.fleet.clusters.indexOf(storage)}].server in ${topology.source}`;
  if (topology.fleet.binaries.minio === undefined) {
    throw new Error(
      `${where}: the local runtime does not run MinIO: thanos-fleet never builds it (AGPL, archived upstream). ` +
        "Set server: seaweedfs (the default) for the local runtime; server: minio is for the kubernetes runtime.",
    );
  }
  throw new Error(
    `${where}: binaries.minio is set, but Thanos's bucket-scoped key on MinIO needs MinIO's admin API, whose ` +
      "encrypted requests only madmin-go (AGPL) speaks, and thanos-fleet links no AGPL code. Set server: seaweedfs " +
      "for the local runtime, or run your MinIO yourself and point objectStore (with a key of your own) at it.",
  );
}

/** Process identity comes from /proc: without it, `down` could not tell its processes from others. */
function requireLinux(): void {
  if (process.platform !== "linux") {
    throw new Error(
      `the local runtime runs on Linux only (it identifies its processes through /proc); this is ${process.platform}. ` +
        "Use the kubernetes runtime (kind) here.",
    );
  }
}

export function createLocalRuntime(given: LocalRuntimeOptions = {}): Runtime {
  const readyTimeoutMs = given.readyTimeoutMs ?? 60_000;
  const stopGraceMs = given.stopGraceMs ?? 10_000;

  async function up(topology: Topology, opts: UpOptions): Promise<void> {
    const { reporter, signal } = opts;
    requireLinux();
    const root = localRoot(opts.stateDir);
    const existing = await readState(root);
    if (existing) {
      const { running, dead } = await alive(existing);
      if (running.length > 0 && dead.length === 0 && existing.complete) {
        reporter.info(
          `a local fleet is already running (${running.length} processes, started ${existing.startedAt}); nothing changed`,
        );
        reporter.info(formatUrls(existing.urls));
        return;
      }
      if (running.length > 0) {
        const fix = "Nothing was changed. Run 'thanos-fleet down --runtime local', then 'up' again.";
        if (dead.length === 0) {
          throw new Error(
            `a local fleet in ${root} is still starting, or its 'up' was killed before it finished ` +
              `(${running.length} processes run). ${fix}`,
          );
        }
        const lines = dead.map((r) => `  - ${r.id} (pid ${r.pid}) is not running; log: ${r.log}`);
        throw new Error(
          `a local fleet is recorded in ${root} but only ${running.length} of ${existing.processes.length} processes run:\n` +
            `${lines.join("\n")}\n${fix}`,
        );
      }
      // Recorded, but nothing of it runs (e.g. after a reboot): the record is stale.
      await removeState(root);
    }

    checkLocalStorage(topology);
    const options = resolveLocalOptions(given, process.env, topology.fleet.blocks);
    const { credentials: creds, save: saveCredentials } = await loadFleetCredentials(topology, opts.stateDir);
    const tls = topology.fleet.tls.grpc ? await loadGrpcTls(opts.stateDir) : undefined;
    const plan = planLocalFleet(topology, creds, opts.stateDir, options, tls?.tls);
    const storage = topology.storage;
    const missing = await missingBinaries(topology, plan.processes);
    if (missing.length > 0) {
      reporter.info(
        `not in the cache yet: ${missing.join(", ")}; fetching them (once; later runs reuse them)`,
      );
      await fetchBinaries(missing, signal);
    }
    const executables = await step(reporter, "find the binaries", () =>
      resolveExecutables(topology, plan.processes),
    );
    for (const [name, path] of executables) reporter.verbose(`${name}: ${path}`);
    const listen = listenAddresses(plan);
    await step(
      reporter,
      `check that the fleet's ${listen.length} addresses on ${options.subnet}.0.0/16 are free`,
      async () => {
        const busy = await unbindable(listen);
        if (busy.length > 0) throw new Error(describeUnbindable(busy, SUBNET_ENV, options.subnet));
      },
    );
    // Nothing is written, not even to the state dir, until the checks above have passed.
    await ensureStateDir(opts.stateDir);
    await saveCredentials();
    await tls?.save();

    const state: FleetState = {
      version: 1,
      runtime: "local",
      startedAt: new Date().toISOString(),
      complete: false,
      options,
      processes: [],
      listen,
      urls: urlTable(topology, plan),
      endpoints: fleetEndpoints(topology, plan),
    };
    await writeState(root, state);
    let writing = Promise.resolve();
    const onStarted = (record: ProcessRecord) => {
      state.processes.push(record);
      reporter.verbose(`${record.id} started (pid ${record.pid}), log ${record.log}`);
      writing = writing.then(() => writeState(root, state));
      return writing;
    };

    try {
      const stages = [...new Set(plan.processes.map((p) => p.stage))].sort((a, b) => a - b);
      for (const stage of stages) {
        const processes = plan.processes.filter((p) => p.stage === stage);
        await step(reporter, stageTitle(stage, processes), () =>
          Promise.all(
            byPod(processes).map(async (pod) => {
              for (const p of pod) {
                const executable = executables.get(p.binary) as string;
                await startProcess(p, executable, { signal, readyTimeoutMs, onStarted });
                reporter.verbose(`${p.id} ready`);
              }
            }),
          ),
        );
        await waitForEndpoints(plan, processes, signal);
        if (stage === STAGE.storage && storage) {
          await step(
            reporter,
            `buckets ${plan.objectStore.bucket} and ${SCOPE_CHECK_BUCKET} on SeaweedFS (Thanos's key: ${plan.objectStore.bucket} only)`,
            async () => {
              const lines = await prepareBuckets(
                {
                  endpoint: plan.objectStore.endpoint,
                  objectStore: plan.objectStore,
                  admin: { accessKey: creds.minioRoot.user, secretKey: creds.minioRoot.password },
                  extraBuckets: [SCOPE_CHECK_BUCKET],
                },
                signal,
              );
              for (const l of lines) reporter.verbose(l);
            },
          );
        }
      }
      await writing;
      state.complete = true;
      await writeState(root, state);
    } catch (error) {
      await writing.catch(() => {});
      const interrupted = signal.aborted;
      const stopped = await stopProcesses(state.processes, stopGraceMs).catch((e: Error) => e);
      await removeState(root);
      const how =
        stopped instanceof Error
          ? `stopping what was started failed too: ${stopped.message}`
          : `stopped the ${stopped.stopped.length} processes it had started`;
      const what = interrupted ? "interrupted" : "the local fleet did not come up";
      throw new Error(`${what}; ${how}. Logs stay under ${root}.`, { cause: error });
    }
    reporter.info(`the local fleet is up: ${state.processes.length} processes, state in ${root}`);
    reporter.info(formatUrls(state.urls));
    if (opts.verify) await verifyAfterUp(topology, state.endpoints, reporter, signal);
  }

  async function down(_topology: Topology, opts: UpOptions & { purge: boolean }): Promise<void> {
    requireLinux();
    const { reporter } = opts;
    const root = localRoot(opts.stateDir);
    const state = await readState(root);
    if (!state) {
      reporter.info(`no local fleet is recorded in ${root}: nothing to stop`);
    } else {
      const result = await step(reporter, `stop the local fleet's ${state.processes.length} processes`, () =>
        stopProcesses(state.processes, stopGraceMs),
      );
      for (const r of result.gone) reporter.verbose(`${r.id} (pid ${r.pid}) had already exited`);
      for (const r of result.killed)
        reporter.verbose(`${r.id} (pid ${r.pid}) ignored SIGTERM and was killed`);
      await step(
        reporter,
        `check that none of its ${state.listen.length} addresses accepts connections`,
        async () => {
          const open = await stillOpen(state.listen);
          if (open.length > 0) {
            throw new Error(
              `still accepting connections after every recorded process stopped: ${open.join(", ")}; ` +
                "another program listens there (see 'ss -ltnp')",
            );
          }
        },
      );
      await removeState(root);
    }
    if (opts.purge) {
      await step(reporter, `delete the local fleet's data, logs and state in ${root}`, () =>
        rm(root, { recursive: true, force: true }),
      );
    }
  }

  async function status(topology: Topology, opts: { stateDir: string }): Promise<ProcessStatus[]> {
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
    return Promise.all(records.map((r) => statusOf(r, state.urls)));
  }

  async function endpoints(_topology: Topology, opts: { stateDir: string }): Promise<FleetEndpoints> {
    const root = localRoot(opts.stateDir);
    const state = await readState(root);
    if (!state) {
      throw new Error(
        `no local fleet is recorded in ${root}; start one with 'thanos-fleet up --runtime local'`,
      );
    }
    return state.endpoints;
  }

  return { name: "local", up, down, status, endpoints };
}

async function statusOf(r: ProcessRecord, exposed: UrlRow[]): Promise<ProcessStatus> {
  const running = isSameProcess(r);
  const urls: Record<string, string> = {};
  for (const p of r.ports) {
    urls[p.name] = p.protocol === "http" ? `http://${r.ip}:${p.port}` : `${r.ip}:${p.port}`;
  }
  // A cluster's load balancer serves its NodePorts: the URLs a person opens.
  if (r.component === "load-balancer") {
    for (const u of exposed.filter((x) => x.cluster === r.cluster)) urls[u.what] = u.url;
  }
  const address =
    r.readiness.kind === "tcp"
      ? `${r.ip} (${r.readiness.addresses.length} frontends)`
      : `${r.ip}:${r.ports.map((p) => p.port).join(",")}`;
  return {
    cluster: r.cluster,
    component: r.component,
    pod: r.pod,
    ...(running ? { pid: r.pid } : {}),
    address,
    ready: running && (await isReady(r.readiness)),
    urls,
  };
}

export const localRuntime: Runtime = createLocalRuntime();

export type { Reporter };
/** For tests and benchmarks: the plan `up` would run, without running it. */
export { type LocalPlan, planLocalFleet };
