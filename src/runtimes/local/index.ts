// The local runtime: the whole fleet as real processes on loopback addresses, no container engine.
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { isDuration } from "../../duration.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import { ensureStateDir } from "../../state/dir.ts";
import { loadFleetCredentials } from "../../state/objectstore-key.ts";
import { forgetRuntime, recordRuntime } from "../../state/runtime.ts";
import { loadGrpcTls } from "../../state/tls.ts";
import type { Topology } from "../../topology/topology.ts";
import { waitProgress } from "../../ui/progress.ts";
import { step } from "../../ui/reporter.ts";
import { table } from "../../ui/table.ts";
import type { CloseVerify, ProcessStatus, Reporter, Runtime, UpOptions } from "../runtime.ts";
import { type Executables, fetchBinaries, missingBinaries, resolveExecutables } from "./binaries.ts";
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
import { hasExited } from "./proc.ts";
import { fleetEndpoints, urlTable } from "./report.ts";
import {
  type FleetState,
  type ProcessRecord,
  readHolds,
  readState,
  removeState,
  removeSupervisor,
  type UrlRow,
  writeHolds,
  writeState,
} from "./state.ts";
import { processState, startSupervisor, supervisorRunning } from "./supervise.ts";
import { isReady, logTail, specHash, startProcess, stopProcesses } from "./supervisor.ts";

export type { LocalOptions } from "./plan.ts";

export const BLOCK_DURATION_ENV = "THANOS_FLEET_LOCAL_BLOCK_DURATION";
export const SYNC_INTERVAL_ENV = "THANOS_FLEET_LOCAL_SYNC_INTERVAL";

/**
 * Short TSDB blocks by default: Prometheus cuts a block every 2 minutes and the sidecars ship it, so store
 * gateway, bucket web and compactor have data within minutes of `up` instead of hours. 2h is what production uses.
 */
export const DEFAULT_BLOCK_DURATION = "2m";
export const DEFAULT_SYNC_INTERVAL = "15s";

export interface LocalRuntimeOptions extends Partial<LocalOptions> {
  /** How long one process may take to answer its readiness endpoint. */
  readyTimeoutMs?: number;
  /** How long `down` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

function duration(value: string, source: string): string {
  if (!isDuration(value))
    throw new Error(`${source}=${JSON.stringify(value)} is not a duration such as 2m or 2h`);
  return value;
}

/** The verify that ends `up`, as one step whose line names the first problem; the whole table goes up with the error. */
async function verifyAfterUp(
  topology: Topology,
  verify: CloseVerify,
  endpoints: FleetEndpoints,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<void> {
  // Plain lines, one per change: the step's own line is live on a TTY.
  const onProgress = waitProgress({ write: (t) => reporter.info(t.replace(/\n$/, "")), isTTY: false });
  const done = reporter.step("verify the fleet");
  let result: Awaited<ReturnType<CloseVerify>>;
  try {
    result = await verify(topology, { endpoints: async () => endpoints, signal, onProgress });
    done();
  } catch (error) {
    done(new Error((error instanceof Error ? error.message : String(error)).split("\n")[0]));
    throw error;
  }
  reporter.info(result.text.trimEnd());
}

/** Options given in code win over the environment, which wins over fleet.yaml's `blocks`, then the defaults. */
export function resolveLocalOptions(
  given: Partial<LocalOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
  blocks: { duration?: string; syncInterval?: string } = {},
  /** What a running fleet was started with: kept unless code, the environment or fleet.yaml says otherwise. */
  running?: LocalOptions,
): LocalOptions {
  return {
    subnet: given.subnet
      ? parseSubnet(given.subnet, "subnet")
      : parseSubnet(env[SUBNET_ENV] ?? running?.subnet ?? DEFAULT_SUBNET),
    blockDuration: duration(
      given.blockDuration ??
        env[BLOCK_DURATION_ENV] ??
        blocks.duration ??
        running?.blockDuration ??
        DEFAULT_BLOCK_DURATION,
      BLOCK_DURATION_ENV,
    ),
    bucketSyncInterval: duration(
      given.bucketSyncInterval ??
        env[SYNC_INTERVAL_ENV] ??
        blocks.syncInterval ??
        running?.bucketSyncInterval ??
        DEFAULT_SYNC_INTERVAL,
      SYNC_INTERVAL_ENV,
    ),
  };
}

export type ConvergeAction = "create" | "start" | "replace" | "remove" | "unchanged";

export interface ProcessAction {
  id: string;
  action: ConvergeAction;
  why: string;
  /** The running fleet's record of it, when it has one. */
  record?: ProcessRecord;
}

/** What `up` does to each process: start what is missing or dead, replace what differs from the plan, keep the rest. */
export function convergeActions(
  planned: ProcessPlan[],
  recorded: ProcessRecord[],
  executables: Executables,
): ProcessAction[] {
  const out: ProcessAction[] = [];
  for (const p of planned) {
    const record = recorded.find((r) => r.id === p.id);
    const hash = specHash(p, executables.get(p.binary) ?? p.binary);
    if (!record) out.push({ id: p.id, action: "create", why: "not running yet" });
    else if (record.specHash !== hash)
      out.push({ id: p.id, action: "replace", why: "its command, environment or files changed", record });
    else if (hasExited(record))
      out.push({ id: p.id, action: "start", why: `was not running (pid ${record.pid} is gone)`, record });
    else out.push({ id: p.id, action: "unchanged", why: `runs as planned (pid ${record.pid})`, record });
  }
  for (const record of recorded) {
    if (!planned.some((p) => p.id === record.id))
      out.push({ id: record.id, action: "remove", why: "no longer in the plan", record });
  }
  return out;
}

export function formatActions(actions: ProcessAction[]): string {
  const changed = actions.filter((a) => a.action !== "unchanged");
  const unchanged = actions.length - changed.length;
  const rows = table(
    ["ACTION", "PROCESS", "WHY"],
    changed.map((a) => [a.action, a.id, a.why]),
  );
  return `${rows}${unchanged} process(es) unchanged\n`;
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

/**
 * Waits until each load balancer routes to the pods just started (a Service answers only through ready endpoints),
 * every endpoint of those pods UP. A pod's other processes count too:
 * a sidecar that kept running while its Prometheus was restarted reports ready again only at its next look at
 * Prometheus, every 30 s (`--prometheus.get_config_interval`), so the wait outlasts that interval.
 */
async function waitForEndpoints(
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
    // The supervisor would race `up` for the processes: pause it, converge, then start it again.
    const supervisor = await supervisorRunning(root);
    if (supervisor) {
      await step(reporter, `pause the supervisor (pid ${supervisor.pid}) while up converges the fleet`, () =>
        stopProcesses([{ ...supervisor, id: "supervisor" }], stopGraceMs),
      );
      await removeSupervisor(root);
    }

    checkLocalStorage(topology);
    const existing = await readState(root);
    // A drill that was killed may have left processes held down: up brings everything back.
    if (existing) await writeHolds(root, []);
    const options = resolveLocalOptions(given, process.env, topology.fleet.blocks, existing?.options);
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
    const actions = convergeActions(plan.processes, existing?.processes ?? [], executables);
    const changes = actions.filter((a) => a.action !== "unchanged");
    const fresh = !existing || actions.every((a) => a.action === "create" || a.action === "start");

    if (existing && changes.length === 0 && existing.complete) {
      reporter.info(
        `a local fleet is already running (${existing.processes.length} processes, started ${existing.startedAt}); ` +
          "every process runs as planned: nothing changed",
      );
      const started = await step(reporter, "start the supervisor", () =>
        startSupervisor(opts.stateDir, signal),
      );
      reporter.verbose(`supervisor pid ${started.pid}, log ${started.log}`);
      reporter.info(formatUrls(existing.urls));
      return;
    }

    const leaving = actions.filter((a) => a.action === "replace" || a.action === "remove");
    if (leaving.length > 0) {
      await step(reporter, `stop ${leaving.length} process(es) that differ from the plan or left it`, () =>
        stopProcesses(
          leaving.flatMap((a) => (a.record ? [a.record] : [])),
          stopGraceMs,
        ),
      );
    }
    const toStart = plan.processes.filter((p) =>
      actions.some((a) => a.id === p.id && a.action !== "unchanged" && a.action !== "remove"),
    );
    const listen = listenAddresses({ ...plan, processes: toStart });
    await step(
      reporter,
      `check that the ${listen.length} addresses to open on ${options.subnet}.0.0/16 are free`,
      async () => {
        const busy = await unbindable(listen);
        if (busy.length > 0) throw new Error(describeUnbindable(busy, SUBNET_ENV, options.subnet));
      },
    );
    // Nothing is written, not even to the state dir, until the checks above have passed.
    await ensureStateDir(opts.stateDir);
    await recordRuntime(opts.stateDir, "local");
    await saveCredentials();
    await tls?.save();

    const kept = actions.flatMap((a) => (a.action === "unchanged" && a.record ? [a.record] : []));
    const state: FleetState = {
      version: 1,
      runtime: "local",
      startedAt: fresh ? new Date().toISOString() : (existing?.startedAt ?? new Date().toISOString()),
      complete: false,
      options,
      processes: [...kept],
      listen: listenAddresses(plan),
      urls: urlTable(topology, plan),
      endpoints: fleetEndpoints(topology, plan),
    };
    await writeState(root, state);
    let writing = Promise.resolve();
    const onStarted = (record: ProcessRecord) => {
      const before = existing?.processes.find((r) => r.id === record.id);
      // A process started again in place keeps counting its restarts, as a container in its pod does.
      if (before && before.specHash === record.specHash) record.restarts = before.restarts + 1;
      state.processes.push(record);
      reporter.verbose(`${record.id} started (pid ${record.pid}), log ${record.log}`);
      writing = writing.then(() => writeState(root, state));
      return writing;
    };

    try {
      const stages = [...new Set(toStart.map((p) => p.stage))].sort((a, b) => a - b);
      for (const stage of stages) {
        const processes = toStart.filter((p) => p.stage === stage);
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
      const what = interrupted ? "interrupted" : "the local fleet did not come up";
      if (!fresh) {
        // Processes that ran before stay up, supervised: a failed converge loses nothing that worked.
        const restarted = await startSupervisor(opts.stateDir, new AbortController().signal).catch(
          (e: Error) => e,
        );
        const how =
          restarted instanceof Error
            ? `the supervisor did not start again: ${restarted.message}`
            : "what runs stays up under the supervisor";
        throw new Error(`${what}; ${how}. Logs are under ${root}.`, { cause: error });
      }
      const stopped = await stopProcesses(state.processes, stopGraceMs).catch((e: Error) => e);
      await removeState(root);
      const how =
        stopped instanceof Error
          ? `stopping what was started failed too: ${stopped.message}`
          : `stopped the ${stopped.stopped.length} processes it had started`;
      throw new Error(`${what}; ${how}. Logs stay under ${root}.`, { cause: error });
    }
    const started = await step(reporter, "start the supervisor (restarts any process that dies)", () =>
      startSupervisor(opts.stateDir, signal),
    );
    reporter.verbose(`supervisor pid ${started.pid}, log ${started.log}`);
    if (fresh) {
      reporter.info(`the local fleet is up: ${state.processes.length} processes, state in ${root}`);
    } else {
      reporter.info(`the local fleet converged: ${changes.length} of ${actions.length} processes changed`);
      reporter.info(formatActions(actions));
    }
    reporter.info(formatUrls(state.urls));
    if (opts.verify) await verifyAfterUp(topology, opts.verify, state.endpoints, reporter, signal);
  }

  async function down(_topology: Topology, opts: UpOptions & { purge: boolean }): Promise<void> {
    requireLinux();
    const { reporter } = opts;
    const root = localRoot(opts.stateDir);
    // The supervisor first: it would start again what is being stopped.
    const supervisor = await supervisorRunning(root);
    if (supervisor) {
      await step(reporter, `stop the supervisor (pid ${supervisor.pid})`, () =>
        stopProcesses([{ ...supervisor, id: "supervisor" }], stopGraceMs),
      );
    }
    await removeSupervisor(root);
    await writeHolds(root, []);
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
          // A big process is reported exited (a zombie leader) a moment before the kernel has torn it down and
          // closed its sockets: give that moment, not more.
          let open = await stillOpen(state.listen);
          for (const deadline = Date.now() + 10_000; open.length > 0 && Date.now() < deadline; ) {
            await sleep(250);
            open = await stillOpen(open);
          }
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
      await forgetRuntime(opts.stateDir, "local");
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

async function statusOf(
  r: ProcessRecord,
  exposed: UrlRow[],
  holds: ReadonlySet<string>,
): Promise<ProcessStatus> {
  const running = !hasExited(r);
  const state = processState(r, holds);
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
    restarts: r.restarts ?? 0,
    state,
    ...(r.lastExit ? { lastExit: r.lastExit } : {}),
    ...(state.startsWith("CrashLoopBackOff") ? { logTail: logTail(r.log, 10) } : {}),
    urls,
  };
}

export const localRuntime: Runtime = createLocalRuntime();

export type { Reporter };
/** For tests and benchmarks: the plan `up` would run, without running it. */
export { type LocalPlan, planLocalFleet };
