// The pieces of the local fleet the query benchmark runs: its storage, its load balancers and the observer's
// Thanos processes, planned by the local runtime from the component specs, started and stopped by its supervisor.
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SCOPE_CHECK_BUCKET } from "../../src/components/objstore.ts";
import { GRPC_PORT, WORKLOAD } from "../../src/components/thanos/common.ts";
import { ENDPOINTS_FILE } from "../../src/components/thanos/query.ts";
import type { ComponentKind } from "../../src/components/types.ts";
import { resolveExecutables } from "../../src/runtimes/local/binaries.ts";
import { prepareBuckets } from "../../src/runtimes/local/bucket.ts";
import { type LocalPlan, type ProcessPlan, planLocalFleet } from "../../src/runtimes/local/processes.ts";
import type { ProcessRecord } from "../../src/runtimes/local/state.ts";
import { startProcess, stopProcesses } from "../../src/runtimes/local/supervisor.ts";
import { type Credentials, loadOrCreateCredentials } from "../../src/state/credentials.ts";
import { loadTopology } from "../../src/topology/load.ts";
import type { Topology } from "../../src/topology/topology.ts";
import { stringify } from "../../src/yaml.ts";

/** Its own loopback subnet, so that it runs beside a fleet on the default one. */
export const SUBNET = process.env.THANOS_FLEET_BENCH_QUERY_SUBNET ?? "127.79";

/** What production runs (the Kubernetes defaults): 2 h blocks, the bucket re-read every 3 min. */
const OPTIONS = { subnet: SUBNET, blockDuration: "2h", bucketSyncInterval: "3m" };

/** What the benchmark runs of the fleet: its storage, the load balancers, and the observer's bucket readers. */
const USED: ProcessPlan["component"][] = [
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
  const topology = await loadTopology();
  const creds = await loadOrCreateCredentials(dir);
  const plan = planLocalFleet(topology, creds, dir, OPTIONS);
  const used = plan.processes.filter((p) => USED.includes(p.component));
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
 * sidecar or ruler runs.
 */
export function storeOnlyEndpoints(fleet: BenchFleet): { path: string; content: string } {
  const query = observerProcess(fleet, "query");
  const file = query.files.find((f) => f.path.endsWith(`/${ENDPOINTS_FILE}`));
  if (!file) throw new Error(`the query's planned files have no ${ENDPOINTS_FILE}`);
  const store = fleet.plan.network.addresses.service(fleet.topology.observer.name, WORKLOAD.store, GRPC_PORT);
  return { path: file.path, content: stringify({ endpoints: [{ address: store }] }) };
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
      },
      new AbortController().signal,
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Writes a file a process reads (its planned files are written by startProcess; these are the benchmark's own). */
export async function writeSecretFile(file: { path: string; content: string }): Promise<void> {
  await rm(file.path, { force: true });
  await writeFile(file.path, file.content, { mode: 0o600 });
}

export function logDir(fleet: BenchFleet): string {
  return join(fleet.plan.root, "bench");
}
