// Real faults on the local runtime: SIGKILL, held down through the supervisor (like a pod scaled to zero), HAProxy
// backends disabled over the stats socket to cut a cluster off, a rollout (SIGTERM, restart, ready, next); every
// server's certificate rotated in place.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { STORAGE_CERT_PORTS } from "../components/seaweedfs.ts";
import { rotateLocalCerts, staleCopies } from "../runtimes/local/certs.ts";
import { haproxyCommands, serverStates } from "../runtimes/local/haproxy.ts";
import { hasExited } from "../runtimes/local/proc.ts";
import { localRoot } from "../runtimes/local/processes.ts";
import { type ProcessRecord, readHolds, readState, writeHolds } from "../runtimes/local/state.ts";
import { supervisorRunning } from "../runtimes/local/supervise.ts";
import { isReady, stopProcesses } from "../runtimes/local/supervisor.ts";
import type { RenewedCert } from "../state/client-certs.ts";
import { httpClientFiles, S3_SERVER_NAME, SEAWEEDFS_NAME } from "../state/tls.ts";
import type { Topology } from "../topology/topology.ts";
import type { Fault, Faults } from "./run.ts";
import type { Scenario, Victim } from "./scenarios.ts";

function matches(topology: Topology, r: ProcessRecord, v: Victim): boolean {
  if (r.cluster !== v.cluster || r.component === "load-balancer") return false;
  if (v.component === "object-store") return topology.storage?.name === r.cluster;
  return r.component === v.component && (v.pod === undefined || r.pod === v.pod);
}

async function current(root: string): Promise<ProcessRecord[]> {
  const state = await readState(root);
  if (!state)
    throw new Error(
      `no local fleet is recorded in ${root}; start one with 'thanos-fleet up --runtime local'`,
    );
  return state.processes;
}

async function until(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await sleep(250);
  }
}

function kill(r: ProcessRecord): void {
  try {
    process.kill(-r.pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Waits until the supervisor has started each process again and it answers its readiness check. */
async function restarted(root: string, before: ProcessRecord[], timeoutMs: number): Promise<void> {
  await until(`${before.map((r) => r.id).join(", ")} to run and be ready again`, timeoutMs, async () => {
    const now = await current(root);
    const checks = await Promise.all(
      before.map(async (b) => {
        const r = now.find((x) => x.id === b.id);
        return r !== undefined && r.pid !== b.pid && !hasExited(r) && (await isReady(r.readiness));
      }),
    );
    return checks.every(Boolean);
  });
}

export function localFaults(topology: Topology, stateDir: string): Faults {
  const root = localRoot(stateDir);
  return {
    async check() {
      if (!(await supervisorRunning(root))) {
        throw new Error(
          "the local fleet's supervisor is not running, so nothing would bring a killed process back: " +
            "run 'thanos-fleet up --runtime local' first",
        );
      }
    },

    async inject(s: Scenario): Promise<Fault> {
      const records = await current(root);
      if (s.mode === "cut-off") return cutOff(topology, root, s, records);
      if (s.mode === "rollout") return rollout(topology, root, s, records);
      if (s.mode === "rotate-certs") return rotation(topology, stateDir, root, records);
      const victims = records.filter((r) => s.victims.some((v) => matches(topology, r, v)));
      if (victims.length === 0) {
        throw new Error(`${s.id}: no process of the fleet matches ${JSON.stringify(s.victims)}`);
      }
      if (s.mode === "down") {
        const holds = await readHolds(root);
        await writeHolds(root, [...new Set([...holds, ...victims.map((r) => r.id)])]);
      }
      for (const r of victims) kill(r);
      await until("the killed processes to exit", 10_000, async () => victims.every((r) => hasExited(r)));
      const names = victims.map((r) => r.id).join(", ");
      return {
        what: `SIGKILL ${names}${s.mode === "down" ? " (held down)" : ""}`,
        brokenPods: victims.map((r) => ({ cluster: r.cluster, pod: r.pod })),
        async lift() {
          if (s.mode === "down") {
            // A held victim that runs again was started during its hold: the fault did not last as measured.
            const early = (await current(root)).filter(
              (r) => victims.some((v) => v.id === r.id && v.pid !== r.pid) && !hasExited(r),
            );
            const ids = new Set(victims.map((r) => r.id));
            await writeHolds(
              root,
              (await readHolds(root)).filter((id) => !ids.has(id)),
            );
            if (early.length > 0) {
              throw new Error(
                `${early.map((r) => `${r.id} (pid ${r.pid})`).join(", ")} ran again while held down: ` +
                  "the supervisor started it during the fault",
              );
            }
          }
          await restarted(root, victims, 120_000);
        },
      };
    },
  };
}

/** How long a stopped process may take to exit before SIGKILL: a kubelet's default termination grace period. */
const GRACE_MS = 30_000;

/**
 * Replaces each victim in turn as an upgrade replaces a StatefulSet's pods: SIGTERM and its graceful shutdown (SIGKILL
 * after the grace period), the supervisor starts it again at once, and the next waits until it has been ready for the
 * scenario's minReadyMs.
 */
function rollout(topology: Topology, root: string, s: Scenario, records: ProcessRecord[]): Fault {
  const order = s.victims.map((v) => {
    const r = records.find((x) => matches(topology, x, v));
    if (!r) throw new Error(`${s.id}: no process of the fleet matches ${JSON.stringify(v)}`);
    return r;
  });
  const stopped = new AbortController();
  const steps: string[] = [];
  const course = (async () => {
    for (const victim of order) {
      if (stopped.signal.aborted) break;
      // The supervisor may have restarted it since the records were read: stop the one that runs.
      const r = (await current(root)).find((x) => x.id === victim.id) ?? victim;
      const t0 = Date.now();
      const { killed } = await stopProcesses([r], GRACE_MS);
      const down = Date.now();
      await restarted(root, [r], 120_000);
      // Ready, then ready for minReadySeconds, as a StatefulSet's controller waits (why: the ingester's facts).
      await sleep(s.minReadyMs ?? 0, undefined, { signal: stopped.signal }).catch(() => {});
      steps.push(
        `${r.pod} stopped in ${Math.round((down - t0) / 1000)} s${killed.length > 0 ? " (SIGKILL after the grace period)" : ""}, ` +
          `ready again ${Math.round((Date.now() - down) / 1000)} s later`,
      );
    }
    return steps.join("; ");
  })();
  return {
    what: `SIGTERM each of ${order.map((r) => r.id).join(", ")} in turn, the next once it is ready again`,
    brokenPods: order.map((r) => ({ cluster: r.cluster, pod: r.pod })),
    course,
    async lift() {
      // Stopped early (Ctrl-C): the process being replaced is left to the supervisor, which starts it again.
      stopped.abort();
      await course.catch(() => {});
    },
  };
}

/** Disables every HAProxy server of the cluster that is a pod of the victims' workload, and drops their sessions. */
async function cutOff(
  topology: Topology,
  root: string,
  s: Scenario,
  records: ProcessRecord[],
): Promise<Fault> {
  const victim = s.victims[0];
  if (!victim) throw new Error(`${s.id}: a cut-off names no victim`);
  const { cluster, component } = victim;
  if (!topology.fleet.clusters.some((c) => c.name === cluster))
    throw new Error(`${s.id}: ${cluster} is not a cluster of ${topology.source}`);
  const socket = join(root, cluster, "haproxy", "haproxy.sock");
  const pods = new Set(
    records.filter((r) => r.cluster === cluster && r.component === component).map((r) => r.pod),
  );
  const servers = [...(await serverStates(socket)).keys()].filter((k) => pods.has(k.split("/")[1] ?? ""));
  if (servers.length === 0)
    throw new Error(`${s.id}: HAProxy of ${cluster} has no server for ${[...pods].join(", ")}`);
  await haproxyCommands(
    socket,
    servers.flatMap((k) => [`disable server ${k}`, `shutdown sessions server ${k}`]),
  );
  return {
    what: `HAProxy of ${cluster}: disabled ${servers.join(", ")}`,
    brokenPods: [...pods].map((pod) => ({ cluster, pod })),
    async lift() {
      await haproxyCommands(
        socket,
        servers.map((k) => `enable server ${k}`),
      );
      await until(`HAProxy of ${cluster} to route to ${servers.join(", ")} again`, 30_000, async () => {
        const states = await serverStates(socket);
        return servers.every((k) => states.get(k) === "UP");
      });
    },
  };
}

/**
 * The serial of the certificate a TLS port presents to the fleet's client, or undefined when it speaks no TLS; verified
 * under `servername` when given, else under the address dialled.
 */
async function presentedSerial(
  address: { host: string; port: number; alpn: string; servername?: string },
  client: { ca: string; cert: string; key: string },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ ...address, ...client, ALPNProtocols: [address.alpn], timeout: 5000 });
    const done = (serial?: string) => {
      socket.destroy();
      resolve(serial);
    };
    socket.on("secureConnect", () => done(socket.getPeerX509Certificate()?.serialNumber));
    socket.on("error", () => done());
    socket.on("timeout", () => done());
  });
}

/**
 * Asks SeaweedFS, until it presents each renewed storage certificate on its port (STORAGE_CERT_PORTS) or a minute
 * passed: it re-reads its files every SEAWEEDFS_CERT_REFRESH.
 */
async function storagePresented(
  processes: ProcessRecord[],
  renewed: RenewedCert[],
  client: { ca: string; cert: string; key: string },
): Promise<{ stale: string[]; seconds: number }> {
  const weed = processes.find((p) => p.component === "object-store" && p.container === "seaweedfs");
  const started = Date.now();
  const pending = new Map(renewed.map((c) => [c.name, c]));
  const where = (name: string) => weed?.ports.find((p) => p.name === STORAGE_CERT_PORTS[name]);
  for (;;) {
    for (const [name, c] of pending) {
      const port = where(name);
      if (!weed || !port) continue;
      const servername = name === "s3-server" ? S3_SERVER_NAME : SEAWEEDFS_NAME;
      const at = { host: weed.ip, port: port.port, alpn: "http/1.1", servername };
      if ((await presentedSerial(at, client)) === c.serialAfter) pending.delete(name);
    }
    if (pending.size === 0 || Date.now() - started > 60_000) break;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const stale = [...pending.keys()].map((name) => {
    const port = where(name);
    return weed && port
      ? `${weed.id} ${name} (${weed.ip}:${port.port})`
      : `${name}: no SeaweedFS port presents it`;
  });
  return { stale, seconds: Math.round((Date.now() - started) / 1000) };
}

/**
 * `certs rotate` on the running fleet. Checked once done: every renewed server presents its new certificate on each
 * of its TLS ports (verified against the fleet CA under the address dialled), and no process was restarted.
 */
async function rotation(
  topology: Topology,
  stateDir: string,
  root: string,
  before: ProcessRecord[],
): Promise<Fault> {
  const r = await rotateLocalCerts(topology, stateDir);
  const files = httpClientFiles(stateDir, "");
  const client = {
    ca: await readFile(files.ca, "utf8"),
    cert: await readFile(files.cert, "utf8"),
    key: await readFile(files.key, "utf8"),
  };
  return {
    what:
      `renewed ${r.renewed.length} server certificates, ${r.clients.length} client certificates and ` +
      `${r.storage.length} of the storage cluster ` +
      `in ${(r.ms / 1000).toFixed(1)} s, ${r.replacedFiles} copies replaced in place`,
    brokenPods: [],
    async lift() {},
    async check() {
      const now = await current(root);
      const restarted = before.filter((b) => {
        const a = now.find((x) => x.id === b.id);
        return !a || a.pid !== b.pid || hasExited(a);
      });
      const stale: string[] = [];
      let ports = 0;
      for (const renewed of r.renewed) {
        const rec = now.find((x) => x.id === renewed.name);
        if (!rec) continue;
        let tls = 0;
        for (const p of rec.ports) {
          const alpn = p.protocol === "grpc" ? "h2" : "http/1.1";
          const serial = await presentedSerial({ host: rec.ip, port: p.port, alpn }, client);
          if (serial === undefined) continue;
          tls++;
          if (serial !== renewed.serialAfter) stale.push(`${rec.id} ${p.name} (${rec.ip}:${p.port})`);
        }
        if (tls === 0) stale.push(`${rec.id}: no TLS port answered`);
        ports += tls;
      }
      // The storage cluster's: SeaweedFS presents them once it re-read its files (SEAWEEDFS_CERT_REFRESH).
      const storage = await storagePresented(now, r.storage, client);
      stale.push(...storage.stale);
      // The client certificates: every process's copy is the renewed one (HAProxy's too, in its memory).
      const wantClients = (topology.fleet.tls.grpc ? 1 : 0) + (topology.fleet.tls.http ? 1 : 0);
      const wantStorage = topology.storage?.server === "seaweedfs" && topology.fleet.tls.s3 ? 2 : 0;
      const copies = await staleCopies(topology, stateDir);
      const ok =
        r.renewed.length > 0 &&
        r.clients.length === wantClients &&
        r.storage.length === wantStorage &&
        copies.stale.length === 0 &&
        stale.length === 0 &&
        restarted.length === 0;
      const detail =
        `${r.clients.length} client certificates renewed (${r.clients.map((c) => c.name).join(", ") || "none"}), ` +
        `${copies.checked - copies.stale.length}/${copies.checked} copies current` +
        (copies.stale.length > 0 ? ` (stale: ${copies.stale.join(", ")})` : "") +
        (r.storage.length > 0
          ? `; the storage cluster's ${r.storage.map((c) => c.name).join(" and ")} presented after ${storage.seconds} s`
          : "") +
        `; ${r.renewed.length} servers: ${ports} TLS ports present the new certificate` +
        (stale.length > 0 ? `; still the old or none: ${stale.join(", ")}` : "") +
        (restarted.length > 0
          ? `; restarted: ${restarted.map((x) => x.id).join(", ")}`
          : `; none of ${before.length} processes restarted`);
      return { ok, detail };
    },
  };
}
