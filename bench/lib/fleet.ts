// The local fleets the benchmarks run: a silent reporter, the binaries check, fleet memory sampling, and the pieces of
// the default fleet the query benchmark starts on its own (storage, load balancers, the observer's Thanos processes),
// planned by the local runtime from the component specs, started and stopped by its supervisor.

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { SCOPE_CHECK_BUCKET } from "../../src/components/objstore.ts";
import { storageService } from "../../src/components/storage.ts";
import { GRPC_PORT, WORKLOAD } from "../../src/components/thanos/common.ts";
import { ENDPOINTS_FILE } from "../../src/components/thanos/query.ts";
import type { ComponentKind } from "../../src/components/types.ts";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { resolveExecutables } from "../../src/runtimes/local/binaries.ts";
import { prepareBuckets } from "../../src/runtimes/local/bucket.ts";
import { readStat, sessionMembers, sessionsRss, TICKS_PER_SECOND } from "../../src/runtimes/local/proc.ts";
import {
  type LocalOptions,
  type LocalPlan,
  type ProcessPlan,
  planLocalFleet,
} from "../../src/runtimes/local/processes.ts";
import { type ProcessRecord, readState } from "../../src/runtimes/local/state.ts";
import { startProcess, stopProcesses } from "../../src/runtimes/local/supervisor.ts";
import type { Reporter, Runtime } from "../../src/runtimes/runtime.ts";
import {
  type Credentials,
  generateCredentials,
  loadOrCreateCredentials,
} from "../../src/state/credentials.ts";
import { loadOrCreateFleetTls, loadS3Tls } from "../../src/state/tls.ts";
import { loadTopology } from "../../src/topology/load.ts";
import type { Topology } from "../../src/topology/topology.ts";
import { formatReport } from "../../src/verify/report.ts";
import { verifyFleetUntil } from "../../src/verify/wait.ts";
import { stringify } from "../../src/yaml.ts";

const SAMPLE_MS = 200;

/** `up` and `down` say nothing: the benchmark prints its own figures. */
export const quiet: Reporter = { step: () => () => {}, info: () => {}, verbose: () => {} };

/** Fails with the command that fetches or builds them when a binary the fleet runs is not cached. */
export async function requireBinaries(topology: Topology, options: LocalOptions): Promise<void> {
  // Which binaries run does not depend on the fleet's TLS material: a throwaway set is made only to plan.
  const scratch = await mkdtemp(join(tmpdir(), "fleet-bench-plan-"));
  try {
    const tls = await loadOrCreateFleetTls(scratch);
    const s3 =
      topology.storage && topology.fleet.tls.s3
        ? await loadS3Tls(scratch, storageService(topology))
        : undefined;
    const plan = planLocalFleet(
      topology,
      generateCredentials(),
      "/tmp/bench",
      options,
      topology.fleet.tls.grpc ? tls.grpc : undefined,
      topology.fleet.tls.http ? tls.http : undefined,
      s3?.tls,
    );
    await resolveExecutables(topology, plan.processes);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Short blocks and a quick bucket sync: a benchmark's fleet ships and serves its first blocks within minutes. */
export const QUICK_TIMINGS = { blockDuration: "1m", bucketSyncInterval: "5s" };
const GREEN_WITHIN_MS = 8 * 60_000;

/** Brings a local fleet up in `stateDir` and waits until every check passes; returns its endpoints. */
export async function upUntilGreen(
  runtime: Runtime,
  topology: Topology,
  stateDir: string,
): Promise<FleetEndpoints> {
  await runtime.up(topology, {
    stateDir,
    reporter: quiet,
    signal: new AbortController().signal,
    verbose: false,
  });
  const endpoints = { ...QUICK_TIMINGS, ...(await runtime.endpoints(topology, { stateDir })) };
  const green = await verifyFleetUntil(topology, endpoints, { waitMs: GREEN_WITHIN_MS, intervalMs: 2000 });
  if (!green.checks.every((c) => c.status === "pass")) {
    throw new Error(
      `the fleet was not all green within ${GREEN_WITHIN_MS / 60_000} min:\n${formatReport(green)}`,
    );
  }
  return endpoints;
}

/** Proportional set size (bytes): shared pages, such as one binary's code in 32 sidecars, split among their users. */
function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+([0-9]+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface MemoryPeak {
  /** Summed resident memory: what `ps` shows, each process's shared pages counted in full. */
  rss: number;
  /** Summed proportional memory: what the fleet takes from the machine, shared pages counted once. */
  pss: number;
}

/** Calls `sample` every SAMPLE_MS until stop(), which waits for the last call to end. */
export function sampleUntilStopped(sample: () => Promise<void> | void): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Samples the summed RSS and PSS of every process the fleet has started so far (each leads its own session). */
export function memorySampler(root: string): { stop(): Promise<MemoryPeak> } {
  const peak: MemoryPeak = { rss: 0, pss: 0 };
  const sampler = sampleUntilStopped(async () => {
    const state = await readState(root).catch(() => undefined);
    if (!state) return;
    const sessions = new Set(state.processes.map((p) => p.pid));
    peak.rss = Math.max(peak.rss, sessionsRss(sessions).bytes);
    peak.pss = Math.max(
      peak.pss,
      sessionMembers(sessions).reduce((sum, pid) => sum + pssBytes(pid), 0),
    );
  });
  return {
    async stop() {
      await sampler.stop();
      return peak;
    },
  };
}

/** CPU time, in seconds, used so far by the live processes of the given sessions (each fleet process leads its own). */
export function sessionsCpuSeconds(sessions: ReadonlySet<number>): number {
  const ticks = sessionMembers(sessions).reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0), 0);
  return ticks / TICKS_PER_SECOND;
}

/** The query benchmark's own loopback subnet, so that it runs beside a fleet on the default one. */
const QUERY_SUBNET = process.env.THANOS_FLEET_BENCH_QUERY_SUBNET ?? "127.79";

/** The query benchmark runs what production runs (the Kubernetes defaults): 2 h blocks, the bucket re-read every 3 min. */
const QUERY_OPTIONS = { subnet: QUERY_SUBNET, blockDuration: "2h", bucketSyncInterval: "3m" };

/** What the benchmark runs of the fleet: its storage, the load balancers, and the observer's bucket readers. */
const QUERY_BENCH_COMPONENTS: ProcessPlan["component"][] = [
  "load-balancer",
  "object-store",
  "store",
  "query",
  "query-frontend",
  "compact",
];

export interface BenchFleet {
  topology: Topology;
  creds: Credentials;
  plan: LocalPlan;
  executables: Map<string, string>;
}

/** Plans the default fleet with its state (credentials, bucket data, store data) in `dir`. */
export async function planBenchFleet(dir: string): Promise<BenchFleet> {
  const loaded = await loadTopology();
  // The query benchmark measures query's work on its pod addresses, as its history records it: plain HTTP. What
  // HTTPS costs is `bench -- local`'s figure.
  const topology = { ...loaded, fleet: { ...loaded.fleet, tls: { ...loaded.fleet.tls, http: false } } };
  const creds = await loadOrCreateCredentials(dir);
  const tls = await loadOrCreateFleetTls(dir);
  const s3 =
    topology.storage && topology.fleet.tls.s3 ? await loadS3Tls(dir, storageService(topology)) : undefined;
  await s3?.save();
  const plan = planLocalFleet(
    topology,
    creds,
    dir,
    QUERY_OPTIONS,
    topology.fleet.tls.grpc ? tls.grpc : undefined,
    undefined,
    s3?.tls,
  );
  const used = plan.processes.filter((p) => QUERY_BENCH_COMPONENTS.includes(p.component));
  const executables = await resolveExecutables(topology, used);
  return { topology, creds, plan, executables: executables as Map<string, string> };
}

/** The one process of the observer cluster that runs `component`. */
export function observerProcess(fleet: BenchFleet, component: ComponentKind): ProcessPlan {
  const p = fleet.plan.processes.find(
    (x) => x.cluster === fleet.topology.observer.name && x.component === component,
  );
  if (!p) throw new Error(`the planned fleet has no ${component} in ${fleet.topology.observer.name}`);
  return p;
}

/** The object store's address and the objstore.yml every Thanos process of the fleet reads. */
export function objstoreFile(fleet: BenchFleet): { path: string; content: string } {
  const store = observerProcess(fleet, "store");
  const file = store.files.find((f) => f.path.endsWith("objstore.yml"));
  if (!file) throw new Error("the store gateway's planned files have no objstore.yml");
  return file;
}

/**
 * The query's endpoint file with only the store gateway: the benchmark's history is all in the bucket, and no
 * sidecar or ruler runs. With `keepTls`, the planned file's client TLS settings stay (the fleet's store gateway
 * requires query's client certificate); without, query dials it in plaintext (the guide's store serves no TLS).
 */
export function storeOnlyEndpoints(fleet: BenchFleet, keepTls: boolean): { path: string; content: string } {
  const query = observerProcess(fleet, "query");
  const file = query.files.find((f) => f.path.endsWith(`/${ENDPOINTS_FILE}`));
  if (!file) throw new Error(`the query's planned files have no ${ENDPOINTS_FILE}`);
  const store = fleet.plan.network.addresses.service(fleet.topology.observer.name, WORKLOAD.store, GRPC_PORT);
  const planned = parse(file.content) as { default_client_config?: unknown };
  const tls =
    keepTls && planned.default_client_config ? { default_client_config: planned.default_client_config } : {};
  return { path: file.path, content: stringify({ ...tls, endpoints: [{ address: store }] }) };
}

/** Processes started by one `Running`, stopped together. */
export class Running {
  private readonly records: ProcessRecord[] = [];
  constructor(private readonly fleet: BenchFleet) {}

  async start(processes: ProcessPlan[], readyTimeoutMs = 180_000): Promise<void> {
    for (const p of processes) {
      const executable = this.fleet.executables.get(p.binary);
      if (!executable) throw new Error(`no executable resolved for ${p.binary}`);
      await startProcess(p, executable, {
        signal: new AbortController().signal,
        readyTimeoutMs,
        onStarted: async (r) => {
          this.records.push(r);
        },
      });
    }
  }

  async stop(): Promise<void> {
    const records = this.records.splice(0);
    await stopProcesses(records);
  }
}

/** Starts the storage cluster (its load balancer and SeaweedFS) and the observer's load balancer; makes the bucket. */
export async function startStorage(fleet: BenchFleet): Promise<Running> {
  const { plan, topology, creds } = fleet;
  const storage = topology.storage?.name;
  if (!storage) throw new Error("the default fleet has no storage cluster");
  const running = new Running(fleet);
  const wanted = plan.processes.filter(
    (p) =>
      (p.component === "load-balancer" && [storage, topology.observer.name].includes(p.cluster)) ||
      p.component === "object-store",
  );
  try {
    await running.start(wanted);
    await prepareBuckets(
      {
        endpoint: plan.objectStore.endpoint,
        objectStore: plan.objectStore,
        admin: { accessKey: creds.minioRoot.user, secretKey: creds.minioRoot.password },
        extraBuckets: [SCOPE_CHECK_BUCKET],
        // The storage cluster serves S3 over HTTPS from the fleet CA: the admin client must too.
        ...(plan.objectStoreTls ? { tls: plan.objectStoreTls } : {}),
      },
      new AbortController().signal,
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}
