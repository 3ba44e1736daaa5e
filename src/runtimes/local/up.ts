// `up` on the local runtime as an ordered list of steps, run like the Kubernetes runtime's (src/runtimes/steps.ts):
// pause the supervisor, fetch and find the binaries, stop what left the plan, check the addresses, then start the
// fleet's stages, each once those it waits for are ready (independent ones at once), the state saved after each
// step and each process, and start the supervisor again.
import { setTimeout as sleep } from "node:timers/promises";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { storageServerName } from "../../components/storage.ts";
import { START_AFTER } from "../../components/types.ts";
import type { Credentials } from "../../state/credentials.ts";
import { ensureStateDir } from "../../state/dir.ts";
import { recordRuntime } from "../../state/runtime.ts";
import { loadUserCa } from "../../state/user-ca.ts";
import type { Topology } from "../../topology/topology.ts";
import { waitProgress } from "../../ui/progress.ts";
import { table } from "../../ui/table.ts";
import type { CloseVerify, UpOptions } from "../runtime.ts";
import { type GraphStep, runStepGraph, runSteps, type Step, type StepContext } from "../steps.ts";
import { type Executables, fetchBinaries, missingBinaries, resolveExecutables } from "./binaries.ts";
import { prepareBuckets } from "./bucket.ts";
import { loadLocalPlan, refreshRunningCopies } from "./certs.ts";
import { convergeActions, formatActions, type ProcessAction } from "./converge.ts";
import { SUBNET_ENV } from "./network.ts";
import { type LocalRuntimeOptions, resolveLocalOptions, timeouts } from "./options.ts";
import { describeUnbindable, unbindable } from "./ports.ts";
import { type LocalPlan, listenAddresses, localRoot, type ProcessPlan, STAGE } from "./processes.ts";
import { fleetEndpoints, urlTable } from "./report.ts";
import { byPod, stageTitle, waitForEndpoints } from "./stages.ts";
import {
  type FleetState,
  type ProcessRecord,
  readState,
  removeState,
  removeSupervisor,
  type SupervisorRecord,
  type UrlRow,
  writeHolds,
  writeState,
} from "./state.ts";
import {
  type StartingSupervisor,
  spawnSupervisor,
  startSupervisor,
  supervisorRunning,
  supervisorStarted,
} from "./supervise.ts";
import { startProcess, stopProcesses } from "./supervisor.ts";
import { checkLocalConfig, requireLinux } from "./supported.ts";

/** What the steps of a local `up` share: the plan, what runs already, and the state being written. */
export interface LocalUpContext extends StepContext {
  topology: Topology;
  stateDir: string;
  /** The local runtime's directory in the state dir: state, logs, data. */
  root: string;
  readyTimeoutMs: number;
  stopGraceMs: number;
  /** The state of the fleet that runs already, if one does. */
  existing?: FleetState;
  plan: LocalPlan;
  credentials: Credentials;
  /** Where each binary is: found by the step that finds them. */
  executables: Executables;
  /** What happens to each process; decided once the binaries are found. */
  actions: ProcessAction[];
  /** The processes to start: created, started again or replaced. */
  toStart: ProcessPlan[];
  /** The record `up` writes: undefined until the checks have passed and the state dir may be written. */
  state?: FleetState;
  /** The closing verify's table, printed once the step is done. */
  verifyText?: string;
}

/** The context of the first step, before the fleet's state is read: the supervisor must be paused first. */
interface PauseContext extends StepContext {
  root: string;
  supervisor?: SupervisorRecord;
  stopGraceMs: number;
}

type LocalStep = Step<LocalUpContext>;

// The supervisor would race `up` for the processes: pause it, converge, then start it again.
const pauseSupervisor: Step<PauseContext> = {
  title: (ctx) =>
    ctx.supervisor
      ? `pause the supervisor (pid ${ctx.supervisor.pid}) while up converges the fleet`
      : undefined,
  async execute(ctx) {
    if (!ctx.supervisor) return;
    await stopProcesses([{ ...ctx.supervisor, id: "supervisor" }], ctx.stopGraceMs);
    await removeSupervisor(ctx.root);
  },
};

const findBinaries: LocalStep = {
  title: () => "find the binaries",
  async execute(ctx) {
    ctx.executables = await resolveExecutables(ctx.topology, ctx.plan.processes);
    for (const [name, path] of ctx.executables) ctx.reporter.verbose(`${name}: ${path}`);
    ctx.actions = convergeActions(ctx.plan.processes, ctx.existing?.processes ?? [], ctx.executables);
    ctx.toStart = ctx.plan.processes.filter((p) =>
      ctx.actions.some((a) => a.id === p.id && a.action !== "unchanged" && a.action !== "remove"),
    );
  },
};

const leaving = (ctx: LocalUpContext) =>
  ctx.actions.filter((a) => a.action === "replace" || a.action === "remove");

const stopLeaving: LocalStep = {
  title: (ctx) =>
    leaving(ctx).length > 0
      ? `stop ${leaving(ctx).length} process(es) that differ from the plan or left it`
      : undefined,
  async execute(ctx) {
    await stopProcesses(
      leaving(ctx).flatMap((a) => (a.record ? [a.record] : [])),
      ctx.stopGraceMs,
    );
  },
};

const toListen = (ctx: LocalUpContext) => listenAddresses({ ...ctx.plan, processes: ctx.toStart });

const checkAddresses: LocalStep = {
  title: (ctx) =>
    `check that the ${toListen(ctx).length} addresses to open on ${ctx.plan.options.subnet}.0.0/16 are free`,
  async execute(ctx) {
    const busy = await unbindable(toListen(ctx));
    if (busy.length > 0) throw new Error(describeUnbindable(busy, SUBNET_ENV, ctx.plan.options.subnet));
  },
};

/** One stage: its pods at once, each pod's processes in order, then its load balancers routing to them. */
const startStage = (stage: number): LocalStep => {
  const processes = (ctx: LocalUpContext) => ctx.toStart.filter((p) => p.stage === stage);
  return {
    title: (ctx) => stageTitle(stage, processes(ctx)),
    async execute(ctx) {
      await Promise.all(
        byPod(processes(ctx)).map(async (pod) => {
          for (const p of pod) {
            const executable = ctx.executables.get(p.binary) as string;
            await startProcess(p, executable, {
              signal: ctx.signal,
              readyTimeoutMs: ctx.readyTimeoutMs,
              onStarted: (record) => started(ctx, record),
            });
            ctx.reporter.verbose(`${p.id} ready`);
          }
        }),
      );
      await waitForEndpoints(ctx.plan, processes(ctx), ctx.signal);
    },
  };
};

/** A process is running: recorded at once, so that `down` finds it should `up` go no further. */
function started(ctx: LocalUpContext, record: ProcessRecord): Promise<void> {
  const before = ctx.existing?.processes.find((r) => r.id === record.id);
  // A process started again in place keeps counting its restarts, as a container in its pod does.
  if (before && before.specHash === record.specHash) record.restarts = before.restarts + 1;
  ctx.state?.processes.push(record);
  ctx.reporter.verbose(`${record.id} started (pid ${record.pid}), log ${record.log}`);
  return ctx.persist();
}

const buckets: LocalStep = {
  title: (ctx) =>
    ctx.topology.storage
      ? `buckets ${ctx.plan.objectStore.bucket} and ${SCOPE_CHECK_BUCKET} on ${storageServerName(ctx.topology.storage)} (Thanos's key: ${ctx.plan.objectStore.bucket} only)`
      : undefined,
  async execute(ctx) {
    const lines = await prepareBuckets(
      {
        endpoint: ctx.plan.objectStore.endpoint,
        objectStore: ctx.plan.objectStore,
        admin: { accessKey: ctx.credentials.minioRoot.user, secretKey: ctx.credentials.minioRoot.password },
        extraBuckets: [SCOPE_CHECK_BUCKET],
        ...(ctx.plan.objectStoreTls ? { tls: ctx.plan.objectStoreTls } : {}),
      },
      ctx.signal,
    );
    for (const l of lines) ctx.reporter.verbose(l);
  },
};

/**
 * The stages with processes to start, each started once the stages it waits for are ready (START_AFTER, the load
 * balancers first): stages that do not wait for each other start at the same time. The storage stage's buckets
 * come with it. A stage with nothing to start is not waited for: what runs already is ready.
 */
function startGraph(ctx: LocalUpContext): GraphStep<LocalUpContext>[] {
  const stages = [...new Set(ctx.toStart.map((p) => p.stage))].sort((a, b) => a - b);
  const steps = new Map(stages.map((stage) => [stage, startStage(stage)]));
  const graph: GraphStep<LocalUpContext>[] = [];
  const lb = steps.get(STAGE.loadBalancer);
  const ready = (stage: number): LocalStep | undefined =>
    stage === STAGE.storage ? buckets : steps.get(stage);
  for (const stage of stages) {
    const step = steps.get(stage) as LocalStep;
    const after =
      stage === STAGE.loadBalancer
        ? []
        : [...(lb ? [lb] : []), ...(START_AFTER[stage] ?? []).flatMap((s) => ready(s) ?? [])];
    graph.push({ step, after });
    if (stage === STAGE.storage) graph.push({ step: buckets, after: [step] });
  }
  return graph;
}

const superviseAgain = (title: string, early?: StartingSupervisor): LocalStep => ({
  title: () => title,
  async execute(ctx) {
    const supervisor = early
      ? await supervisorStarted(early, ctx.signal)
      : await startSupervisor(ctx.stateDir, ctx.signal);
    ctx.reporter.verbose(`supervisor pid ${supervisor.pid}, log ${supervisor.log}`);
  },
});

/** The verify that ends `up`; progress as plain lines, one per change: the step's own line is live on a TTY. */
const verifyStep = (verify: CloseVerify): LocalStep => ({
  title: () => "verify the fleet",
  async execute(ctx) {
    const onProgress = waitProgress({ write: (t) => ctx.reporter.info(t.replace(/\n$/, "")), isTTY: false });
    const endpoints = (ctx.state as FleetState).endpoints;
    const result = await verify(ctx.topology, {
      endpoints: async () => endpoints,
      signal: ctx.signal,
      onProgress,
    });
    ctx.verifyText = result.text;
  },
});

export function formatUrls(rows: UrlRow[]): string {
  return table(
    ["WHAT", "CLUSTER", "URL"],
    rows.map((r) => [r.what, r.cluster, r.url]),
  );
}

/**
 * Reads what runs, the options and the plan. Nothing is written but the holds a killed drill may have left: `up`
 * brings everything back.
 */
async function newLocalUpContext(
  topology: Topology,
  opts: UpOptions,
  given: LocalRuntimeOptions,
  root: string,
): Promise<{ ctx: LocalUpContext; save: () => Promise<void>; saveLeaves: () => Promise<void> }> {
  const existing = await readState(root);
  if (existing) await writeHolds(root, []);
  const options = resolveLocalOptions(given, process.env, topology.fleet.blocks, existing?.options);
  const {
    plan,
    credentials,
    own,
    clientRenewals,
    storageRenewals,
    save: saveMaterial,
  } = await loadLocalPlan(topology, opts.stateDir, options);
  let written: string | undefined;
  // Processes start concurrently and each is recorded: writes go one after another, the latest state last.
  let writing: Promise<void> = Promise.resolve();
  const ctx: LocalUpContext = {
    topology,
    stateDir: opts.stateDir,
    root,
    reporter: opts.reporter,
    signal: opts.signal,
    ...timeouts(given),
    ...(existing ? { existing } : {}),
    plan,
    credentials,
    executables: new Map(),
    actions: [],
    toStart: [],
    persist() {
      writing = writing.then(async () => {
        if (!ctx.state) return;
        const now = JSON.stringify(ctx.state);
        if (now === written) return;
        await writeState(root, ctx.state);
        written = now;
      });
      return writing;
    },
  };
  const save = async () => {
    await saveMaterial();
    await saveLeaves();
  };
  // A renewed certificate reaches what runs in place (no restart: it is no part of a process's spec).
  const saveLeaves = async () => {
    await own.save();
    for (const r of [...own.renewals, ...clientRenewals, ...storageRenewals]) {
      if (r.before) opts.reporter.info(`renewed ${r.name}'s certificate: ${r.why}`);
    }
    await refreshRunningCopies(ctx.plan);
  };
  return { ctx, save, saveLeaves };
}

/** The record of a fleet about to start: what keeps running, and where the whole fleet listens and answers. */
function newState(ctx: LocalUpContext, fresh: boolean): FleetState {
  const now = new Date().toISOString();
  return {
    version: 1,
    runtime: "local",
    startedAt: fresh ? now : (ctx.existing?.startedAt ?? now),
    complete: false,
    options: ctx.plan.options,
    processes: ctx.actions.flatMap((a) => (a.action === "unchanged" && a.record ? [a.record] : [])),
    listen: listenAddresses(ctx.plan),
    urls: urlTable(ctx.topology, ctx.plan),
    endpoints: fleetEndpoints(ctx.topology, ctx.plan),
  };
}

export async function upLocal(
  topology: Topology,
  opts: UpOptions,
  given: LocalRuntimeOptions = {},
): Promise<void> {
  requireLinux();
  checkLocalConfig(topology);
  // The block timings of the environment are checked before the supervisor is paused (the fleet's own are read later).
  resolveLocalOptions(given, process.env, topology.fleet.blocks);
  // So is the user's own CA (tls.ca): a wrong one stops up before the supervisor is paused.
  await loadUserCa(topology);
  const { reporter, signal } = opts;
  const root = localRoot(opts.stateDir);
  const supervisor = await supervisorRunning(root);
  const pause: PauseContext = {
    reporter,
    signal,
    root,
    stopGraceMs: timeouts(given).stopGraceMs,
    ...(supervisor ? { supervisor } : {}),
    persist: async () => {},
  };
  await runSteps(pause, [pauseSupervisor]);

  const { ctx, save, saveLeaves } = await newLocalUpContext(topology, opts, given, root);
  const missing = await missingBinaries(topology, ctx.plan.processes);
  if (missing.length > 0) {
    // Not a step: the download draws its own progress bar on a terminal.
    reporter.info(`not in the cache yet: ${missing.join(", ")}; fetching them (once; later runs reuse them)`);
    await fetchBinaries(missing, signal);
  }
  await runSteps(ctx, [findBinaries]);
  const { existing, actions } = ctx;
  const changes = actions.filter((a) => a.action !== "unchanged");
  if (existing && changes.length === 0 && existing.complete) {
    reporter.info(
      `a local fleet is already running (${existing.processes.length} processes, started ${existing.startedAt}); ` +
        "every process runs as planned: nothing changed",
    );
    await saveLeaves();
    await runSteps(ctx, [superviseAgain("start the supervisor")]);
    reporter.info(formatUrls(existing.urls));
    return;
  }
  await runSteps(ctx, [stopLeaving, checkAddresses]);

  // Nothing is written, not even to the state dir, until the checks above have passed.
  await ensureStateDir(opts.stateDir);
  await recordRuntime(opts.stateDir, "local");
  await save();
  const fresh = !existing || actions.every((a) => a.action === "create" || a.action === "start");
  const state = newState(ctx, fresh);
  ctx.state = state;
  await ctx.persist();
  // A fresh fleet's supervisor starts now, its start-up overlapping the fleet's; it watches nothing until the
  // fleet is complete. A converge keeps the supervisor paused until it is done, as before.
  const early = fresh ? await spawnSupervisor(ctx.stateDir, { afterUp: true }) : undefined;
  try {
    await runStepGraph(ctx, startGraph(ctx));
    state.complete = true;
    await ctx.persist();
  } catch (error) {
    await ctx.persist().catch(() => {});
    throw await undo(ctx, fresh, error, early);
  }
  await runSteps(ctx, [superviseAgain("start the supervisor (restarts any process that dies)", early)]);
  if (fresh) {
    reporter.info(`the local fleet is up: ${state.processes.length} processes, state in ${root}`);
  } else {
    reporter.info(`the local fleet converged: ${changes.length} of ${actions.length} processes changed`);
    reporter.info(formatActions(actions));
  }
  reporter.info(formatUrls(state.urls));
  if (opts.verify) {
    await runSteps(ctx, [verifyStep(opts.verify)]);
    if (ctx.verifyText) reporter.info(ctx.verifyText.trimEnd());
  }
}

/** Stops a supervisor started early and waits for it to be gone. */
async function stopSupervisorChild(early: StartingSupervisor, graceMs: number): Promise<void> {
  const { child } = early;
  if (child.exit()) return;
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    return;
  }
  const ended = await Promise.race([child.exited, sleep(graceMs, undefined)]);
  if (ended === undefined) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {}
    await child.exited;
  }
}

/**
 * `up` failed or was interrupted while starting processes. A fleet that ran before stays up under the supervisor: a
 * failed converge loses nothing that worked. A fresh one is stopped and its state removed. Returns the error to throw.
 */
async function undo(
  ctx: LocalUpContext,
  fresh: boolean,
  error: unknown,
  early?: StartingSupervisor,
): Promise<Error> {
  const what = ctx.signal.aborted ? "interrupted" : "the local fleet did not come up";
  if (!fresh) {
    const restarted = await startSupervisor(ctx.stateDir, new AbortController().signal).catch(
      (e: Error) => e,
    );
    const how =
      restarted instanceof Error
        ? `the supervisor did not start again: ${restarted.message}`
        : "what runs stays up under the supervisor";
    return new Error(`${what}; ${how}. Logs are under ${ctx.root}.`, { cause: error });
  }
  const stopped = await stopProcesses(ctx.state?.processes ?? [], ctx.stopGraceMs).catch((e: Error) => e);
  await removeState(ctx.root);
  // The supervisor started early exits once the state is gone; it is stopped too, should it not have loaded yet.
  if (early) await stopSupervisorChild(early, ctx.stopGraceMs);
  const how =
    stopped instanceof Error
      ? `stopping what was started failed too: ${stopped.message}`
      : `stopped the ${stopped.stopped.length} processes it had started`;
  return new Error(`${what}; ${how}. Logs stay under ${ctx.root}.`, { cause: error });
}
