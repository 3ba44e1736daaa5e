// A local fleet to break on purpose, for verify's end-to-end test and for recording its testdata: up, stop one
// process, add a query that registers a sidecar twice, down. Only processes this harness started are touched.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { resolveBinary } from "../../src/binaries/resolve.ts";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { fetchClient } from "../../src/net/http.ts";
import { createLocalRuntime } from "../../src/runtimes/local/index.ts";
import { hasExited, isSameProcess } from "../../src/runtimes/local/proc.ts";
import { localRoot } from "../../src/runtimes/local/processes.ts";
import { readHolds, readState, writeHolds } from "../../src/runtimes/local/state.ts";
import { supervisorRunning } from "../../src/runtimes/local/supervise.ts";
import { isReady } from "../../src/runtimes/local/supervisor.ts";
import type { Reporter } from "../../src/runtimes/runtime.ts";
import { TLS_DIR } from "../../src/state/tls.ts";
import type { Topology } from "../../src/topology/topology.ts";
import { formatReport } from "../../src/verify/report.ts";
import type { Report } from "../../src/verify/types.ts";
import { verifyFleet } from "../../src/verify/verify.ts";
import { type Recording, recordingClient } from "./replay.ts";

/** Short blocks and fast bucket syncs, so that blocks exist and are served within minutes. */
export const FAST_TIMINGS = { blockDuration: "1m", bucketSyncInterval: "5s" };

export class LocalFleetHarness {
  readonly log: string[] = [];
  private readonly runtime;
  private readonly children: ChildProcess[] = [];
  /** The state dir of the running fleet (a temporary directory). */
  stateDir = "";

  constructor(
    readonly topology: Topology,
    readonly subnet: string,
  ) {
    this.runtime = createLocalRuntime({ subnet, ...FAST_TIMINGS });
  }

  private get upOptions() {
    const reporter: Reporter = {
      step: (title) => (error) => this.log.push(error ? `✗ ${title}: ${error.message}` : `✓ ${title}`),
      info: (line) => this.log.push(line),
      verbose: () => {},
    };
    return { stateDir: this.stateDir, reporter, signal: new AbortController().signal, verbose: false };
  }

  async up(): Promise<void> {
    this.stateDir = await mkdtemp(join(tmpdir(), "fleet-verify-"));
    await this.runtime.up(this.topology, this.upOptions);
  }

  /** `up` again on the running fleet: what the local fix texts tell a person to run. */
  async converge(): Promise<void> {
    await this.runtime.up(this.topology, this.upOptions);
  }

  /** What the runtime reports, with the timings this fleet runs with when the runtime does not say. */
  async endpoints(): Promise<FleetEndpoints> {
    return { ...FAST_TIMINGS, ...(await this.runtime.endpoints(this.topology, { stateDir: this.stateDir })) };
  }

  /** Stops the fleet's processes of one component (of one pod, when given) in a cluster. */
  async stop(cluster: string, component: string, pod?: string): Promise<number> {
    const state = await readState(localRoot(this.stateDir));
    const records = (state?.processes ?? []).filter(
      (p) => p.cluster === cluster && p.component === component && (pod === undefined || p.pod === pod),
    );
    if (records.length === 0)
      throw new Error(`the local fleet runs no ${component} ${pod ?? ""} in ${cluster}`);
    // Held down, like a workload scaled to zero: the supervisor does not start them again.
    const root = localRoot(this.stateDir);
    await writeHolds(root, [...(await readHolds(root)), ...records.map((r) => r.id)]);
    for (const r of records) process.kill(r.pid, "SIGTERM");
    return records.length;
  }

  /**
   * Verifies until `ready` holds (or fails after timeoutMs), then records that last verify as
   * src/verify/testdata/<name>.json, the keys redacted and this machine's paths made `/state`; returns its table.
   */
  async record(
    name: string,
    scenario: string,
    ready: (r: Report) => boolean,
    endpoints?: FleetEndpoints,
    timeoutMs = 120_000,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = endpoints ?? (await this.endpoints());
      const responses: Recording["responses"] = {};
      const now = new Date();
      const report = await verifyFleet(this.topology, e, {
        http: recordingClient(fetchClient(5000), responses),
        now: () => now,
      });
      if (ready(report)) {
        // Paths of this machine (the rulers report their rule file's) become `/state`.
        for (const r of Object.values(responses))
          if ("body" in r) r.body = r.body.replaceAll(this.stateDir, "/state");
        const redacted: FleetEndpoints = {
          ...e,
          objectStore: { ...e.objectStore, accessKey: "thanos-EXAMPLEKEY", secretKey: "example-secret-key" },
        };
        const rec: Recording = { scenario, now: now.toISOString(), endpoints: redacted, responses };
        await writeFile(
          new URL(`../../src/verify/testdata/${name}.json`, import.meta.url),
          `${JSON.stringify(rec, null, 1)}\n`,
        );
        return formatReport(report);
      }
      if (Date.now() > deadline)
        throw new Error(`${name}: not reached in ${timeoutMs / 1000}s:\n${formatReport(report)}`);
      await sleep(1000);
    }
  }

  /**
   * SIGKILLs every process of one component in a cluster at once (both Prometheus replicas, say), keeps them down for
   * `holdMs` through the supervisor's holds, as the drill does, then lifts the hold and waits until the supervisor has
   * started each again and it is ready. Returns when they died and when they were back (ms).
   */
  async killAndHold(
    cluster: string,
    component: string,
    holdMs: number,
  ): Promise<{ killedAt: number; backAt: number }> {
    const root = localRoot(this.stateDir);
    const records = ((await readState(root))?.processes ?? []).filter(
      (p) => p.cluster === cluster && p.component === component,
    );
    if (records.length === 0) throw new Error(`the local fleet runs no ${component} in ${cluster}`);
    const ids = new Set(records.map((r) => r.id));
    await writeHolds(root, [...(await readHolds(root)), ...ids]);
    const killedAt = Date.now();
    for (const r of records) process.kill(-r.pid, "SIGKILL");
    await sleep(holdMs);
    await writeHolds(
      root,
      (await readHolds(root)).filter((id) => !ids.has(id)),
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      const now = ((await readState(root))?.processes ?? []).filter((p) => ids.has(p.id));
      const back = await Promise.all(
        now.map(async (n) => {
          const before = records.find((r) => r.id === n.id);
          return n.pid !== before?.pid && !hasExited(n) && (await isReady(n.readiness));
        }),
      );
      if (back.length === records.length && back.every(Boolean)) return { killedAt, backAt: Date.now() };
      if (Date.now() > deadline)
        throw new Error(`${[...ids].join(", ")} not back 120 s after the hold was lifted`);
      await sleep(250);
    }
  }

  /** SIGKILLs the local fleet's supervisor: nothing restarts a process that dies until `up` starts it again. */
  async killSupervisor(): Promise<void> {
    const supervisor = await supervisorRunning(localRoot(this.stateDir));
    if (!supervisor) throw new Error("the local fleet's supervisor is not running");
    process.kill(supervisor.pid, "SIGKILL");
    while (isSameProcess(supervisor)) await sleep(50);
  }

  /**
   * Starts a query of its own at `<subnet>.0.240` that reaches one sidecar twice, at its NodePort and at its pod
   * address (as two node IPs of one cluster would), and returns endpoints where it stands in for thanos-query-1.
   */
  async duplicateQuery(cluster: string, pod: string): Promise<{ endpoints: FleetEndpoints; direct: string }> {
    const e = await this.endpoints();
    const sidecar = e.targets.find(
      (t) => t.cluster === cluster && t.component === "sidecar" && t.pod === pod,
    );
    if (!sidecar?.grpc) throw new Error(`no sidecar ${cluster}/${pod} with a gRPC address`);
    const direct = `${new URL(sidecar.url).hostname}:10901`;
    const addr = `${this.subnet}.0.240`;
    const stores = e.targets.filter((t) => t.grpc).map((t) => t.grpc as string);
    const child = spawn(
      await resolveBinary("thanos"),
      [
        "query",
        `--grpc-address=${addr}:10901`,
        `--http-address=${addr}:10902`,
        "--query.replica-label=prometheus_replica",
        "--query.replica-label=ruler_replica",
        ...[...stores, direct].map((s) => `--endpoint=${s}`),
        ...this.grpcClientTls(),
      ],
      { stdio: "ignore" },
    );
    this.children.push(child);
    const url = `http://${addr}:10902`;
    for (let i = 0; i < 60; i++) {
      const ok = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(500);
    }
    return {
      direct,
      endpoints: {
        ...e,
        targets: e.targets.map((t) =>
          t.component === "query" && t.pod === "thanos-query-1" ? { ...t, url } : t,
        ),
      },
    };
  }

  /** A hand-made query's client flags for the fleet's mutual TLS (the default), from the state dir's material. */
  private grpcClientTls(): string[] {
    if (!this.topology.fleet.tls.grpc) return [];
    const dir = join(this.stateDir, TLS_DIR);
    return [
      "--grpc-client-tls-secure",
      `--grpc-client-tls-ca=${join(dir, "ca.crt")}`,
      `--grpc-client-tls-cert=${join(dir, "grpc-client.crt")}`,
      `--grpc-client-tls-key=${join(dir, "grpc-client.key")}`,
      // Each server's own certificate names the addresses it is dialled at: the client verifies the one it dials.
    ];
  }

  stopDuplicateQuery(): void {
    for (const c of this.children.splice(0)) c.kill("SIGTERM");
  }

  /** Stops everything; keeps the state dir (with logs) when asked to, and says where. */
  async down(keep: boolean): Promise<string | undefined> {
    for (const c of this.children.splice(0)) c.kill("SIGKILL");
    if (!this.stateDir) return undefined;
    await this.runtime.down(this.topology, { ...this.upOptions, purge: !keep }).catch(() => {});
    if (keep) return this.stateDir;
    await rm(this.stateDir, { recursive: true, force: true });
    return undefined;
  }
}
