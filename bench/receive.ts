// Sustained remote-write ingest: the same steady stream (tools/remotewrite-load) sent first to the fleet's receive
// path (the remote-write NodePort → 2 routers → 3 ingesters at replication factor 3, mutual TLS, a tenant header),
// then to one Prometheus with --web.enable-remote-write-receiver (the anchor, HTTPS with the fleet's certificate),
// one after the other on the same cores: samples/s accepted, CPU-seconds per million samples, memory per million
// active series, p99 write latency.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { binaryPath, ensureBuilt, type GoBuild } from "../scripts/kind-host/gobuild.ts";
import { TOOLS_DIR } from "../src/binaries/catalog.ts";
import { SCOPE_CHECK_BUCKET } from "../src/components/objstore.ts";
import { storageService } from "../src/components/storage.ts";
import { remoteWriteUrl, TENANT_HEADER } from "../src/components/thanos/receive.ts";
import { receiveTopology } from "../src/render/testdata/fixtures.ts";
import { resolveExecutables } from "../src/runtimes/local/binaries.ts";
import { prepareBuckets } from "../src/runtimes/local/bucket.ts";
import { sessionsRss } from "../src/runtimes/local/proc.ts";
import { type LocalPlan, type ProcessPlan, planLocalFleet } from "../src/runtimes/local/processes.ts";
import type { ProcessRecord } from "../src/runtimes/local/state.ts";
import { startProcess, stopProcesses } from "../src/runtimes/local/supervisor.ts";
import { type Credentials, generateCredentials } from "../src/state/credentials.ts";
import {
  GRPC_SERVER_NAME,
  httpClientFiles,
  loadOrCreateFleetTls,
  loadS3Tls,
  TLS_DIR,
} from "../src/state/tls.ts";
import type { Topology } from "../src/topology/topology.ts";
import { table } from "../src/ui/table.ts";
import type { Benchmark, Figure, Options } from "./benchmark.ts";
import { requireBinaries, sessionsCpuSeconds } from "./lib/fleet.ts";

const SUBNET =
  process.env.THANOS_FLEET_RECEIVE_BENCH_SUBNET ?? process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.76";
/** Production's block length: neither side cuts a block during a run of minutes. */
const OPTIONS = { subnet: SUBNET, blockDuration: "2h", bucketSyncInterval: "3m" };
const TENANT = "bench";
const ANCHOR_PORT = 19099;

export interface Load {
  series: number;
  intervalS: number;
  durationS: number;
  concurrency: number;
}

function loadOf(options: Options): Load {
  const num = (name: string, fallback: number) => {
    const raw = options[name];
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${raw}: give a positive number`);
    return n;
  };
  return {
    series: Math.round(num("series", 50_000)),
    intervalS: num("interval", 2),
    durationS: num("duration", 90),
    concurrency: Math.round(num("concurrency", 8)),
  };
}

/** What tools/remotewrite-load prints. */
interface LoadResult {
  offeredSamplesPerSecond: number;
  seconds: number;
  sentSamples: number;
  acceptedSamples: number;
  requests: number;
  statuses: Record<string, number>;
  firstError?: string;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  lateRounds: number;
  rounds: number;
}

/** remotewrite-load, built once per version of its source like the repository's other Go programs. */
async function buildLoad(): Promise<string> {
  const dir = join(TOOLS_DIR, "remotewrite-load");
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) h.update(await readFile(join(dir, f)));
  const build: GoBuild = {
    id: "remotewrite-load",
    toolDir: "remotewrite-load",
    version: `src-${h.digest("hex").slice(0, 12)}`,
    binaries: { "remotewrite-load": "thanos-fleet/tools/remotewrite-load" },
  };
  await ensureBuilt(build, process.stderr);
  return binaryPath(build, "remotewrite-load");
}

interface Target {
  url: string;
  tenant?: string;
  tls: { ca: string; cert: string; key: string; serverName: string };
}

async function sendLoad(tool: string, target: Target, load: Load): Promise<LoadResult> {
  const args = [
    `-url=${target.url}`,
    `-ca=${target.tls.ca}`,
    `-cert=${target.tls.cert}`,
    `-key=${target.tls.key}`,
    `-server-name=${target.tls.serverName}`,
    `-series=${load.series}`,
    `-interval=${load.intervalS}s`,
    `-duration=${load.durationS}s`,
    `-concurrency=${load.concurrency}`,
    ...(target.tenant ? [`-tenant=${target.tenant}`, `-tenant-header=${TENANT_HEADER}`] : []),
  ];
  const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`remotewrite-load exited ${code}: ${err.trim() || out.trim()}`);
  return JSON.parse(out) as LoadResult;
}

interface Measured {
  load: LoadResult;
  cpuSeconds: number;
  /** Summed RSS once the load had run, and before it. */
  rssBytes: number;
  idleRssBytes: number;
}

/** Sends the load to `target` and measures the processes of `sessions` meanwhile. */
async function measure(tool: string, target: Target, load: Load, sessions: Set<number>): Promise<Measured> {
  const idleRssBytes = sessionsRss(sessions).bytes;
  const cpu0 = sessionsCpuSeconds(sessions);
  const result = await sendLoad(tool, target, load);
  const cpuSeconds = sessionsCpuSeconds(sessions) - cpu0;
  return { load: result, cpuSeconds, rssBytes: sessionsRss(sessions).bytes, idleRssBytes };
}

async function plan(
  dir: string,
  topology: Topology,
): Promise<{ plan: LocalPlan; exe: Map<string, string>; creds: Credentials }> {
  const tls = await loadOrCreateFleetTls(dir);
  const s3 =
    topology.storage && topology.fleet.tls.s3 ? await loadS3Tls(dir, storageService(topology)) : undefined;
  await s3?.save();
  const creds = generateCredentials();
  const p = planLocalFleet(topology, creds, dir, OPTIONS, tls.grpc, tls.http, s3?.tls);
  const exe = (await resolveExecutables(topology, p.processes)) as Map<string, string>;
  return { plan: p, exe, creds };
}

/** Starts processes in order, each ready before the next; stop() ends them all. */
class Started {
  readonly records: ProcessRecord[] = [];
  constructor(private readonly exe: Map<string, string>) {}
  async start(processes: ProcessPlan[]): Promise<void> {
    for (const p of processes) {
      const executable = this.exe.get(p.binary);
      if (!executable) throw new Error(`no executable resolved for ${p.binary}`);
      await startProcess(p, executable, {
        signal: new AbortController().signal,
        readyTimeoutMs: 180_000,
        onStarted: async (r) => {
          this.records.push(r);
        },
      });
    }
  }
  async stop(): Promise<void> {
    await stopProcesses(this.records.splice(0));
  }
}

/**
 * The anchor: biz2's first planned Prometheus with its own web config (HTTPS, the fleet's client certificate), a
 * config with nothing to scrape and nowhere to write, and the remote-write receiver on.
 */
function anchorProcess(p: LocalPlan, dir: string): ProcessPlan {
  const base = p.processes.find((x) => x.cluster === "biz2" && x.component === "prometheus");
  if (!base) throw new Error("the planned fleet has no Prometheus in biz2");
  const root = join(dir, "anchor");
  const config = join(root, "prometheus.yml");
  const keep = (a: string) =>
    a.startsWith("--web.config.file=") ||
    a.startsWith("--storage.tsdb.min-block-duration=") ||
    a.startsWith("--storage.tsdb.max-block-duration=");
  return {
    ...base,
    id: "bench/anchor/prometheus",
    pod: "anchor",
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(root, "data")}`,
      `--web.listen-address=${base.ip}:${ANCHOR_PORT}`,
      "--web.enable-remote-write-receiver",
      ...base.args.filter(keep),
    ],
    files: [
      ...base.files.filter((f) => !f.path.endsWith("/prometheus.yml")),
      { path: config, content: "global:\n  scrape_interval: 15s\n" },
    ],
    dirs: [root, join(root, "data")],
    log: join(root, "prometheus.log"),
    ports: [{ name: "web", port: ANCHOR_PORT, protocol: "http" }],
    readiness:
      base.readiness.kind === "http"
        ? { ...base.readiness, url: readyUrl(base.readiness.url, ANCHOR_PORT) }
        : base.readiness,
  };
}

/** The same readiness URL on another port. */
function readyUrl(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

interface Row {
  what: string;
  m: Measured;
  series: number;
  load: Load;
}

let rows: Row[] = [];
let loadLine = "";

/**
 * Accepted samples per second of the stream: over the rounds it sent (a round every interval), or longer when the
 * senders fell behind.
 */
function acceptedPerSecond(m: Measured, load: Load): number {
  return m.load.acceptedSamples / Math.max(m.load.seconds, m.load.rounds * load.intervalS);
}

function figures(r: Row): Figure[] {
  const samples = r.m.load.acceptedSamples;
  const perMillion = (x: number, n: number) => (n > 0 ? (x / n) * 1e6 : 0);
  return [
    { name: `${r.what}: samples/s accepted`, value: acceptedPerSecond(r.m, r.load), unit: "count" },
    {
      name: `${r.what}: CPU-seconds per million samples`,
      value: perMillion(r.m.cpuSeconds, samples),
      unit: "s",
    },
    {
      name: `${r.what}: memory per million active series (RSS growth)`,
      value: perMillion(r.m.rssBytes - r.m.idleRssBytes, r.series) / 2 ** 20,
      unit: "MiB",
    },
    { name: `${r.what}: p99 write latency`, value: r.m.load.latencyMs.p99, unit: "ms" },
    {
      name: `${r.what}: requests not accepted`,
      value:
        r.m.load.requests -
        Object.entries(r.m.load.statuses)
          .filter(([s]) => /^2/.test(s))
          .reduce((n, [, c]) => n + c, 0),
      unit: "count",
      target: 0,
    },
  ];
}

export async function benchReceive(load: Load): Promise<Figure[]> {
  const topology = receiveTopology();
  const dir = await mkdtemp(join(tmpdir(), "fleet-bench-receive-"));
  const tool = await buildLoad();
  const { plan: p, exe, creds } = await plan(dir, topology);
  const mgmt = topology.observer.name;
  const storage = topology.storage?.name ?? "";
  const started = new Started(exe);
  const load1 = loadavg()[0] ?? 0;
  try {
    // The receive path and what it needs: the storage cluster (the ingesters' bucket), mgmt's load balancer (the
    // remote-write NodePort).
    const of = (pred: (x: ProcessPlan) => boolean) => p.processes.filter(pred);
    await started.start(
      of(
        (x) =>
          (x.component === "load-balancer" && [storage, mgmt].includes(x.cluster)) ||
          x.component === "object-store",
      ),
    );
    await prepareBuckets(
      {
        endpoint: p.objectStore.endpoint,
        objectStore: p.objectStore,
        admin: { accessKey: creds.minioRoot.user, secretKey: creds.minioRoot.password },
        extraBuckets: [SCOPE_CHECK_BUCKET],
        ...(p.objectStoreTls ? { tls: p.objectStoreTls } : {}),
      },
      new AbortController().signal,
    );
    const receivers = of((x) => x.component === "receive-ingester" || x.component === "receive-router");
    await started.start(receivers.filter((x) => x.component === "receive-ingester"));
    await started.start(receivers.filter((x) => x.component === "receive-router"));
    const receiveSessions = new Set(
      started.records.filter((r) => r.component.startsWith("receive-")).map((r) => r.pid),
    );
    const tlsDir = join(dir, TLS_DIR);
    const fleet = await measure(
      tool,
      {
        url: remoteWriteUrl(topology, p.network.addresses),
        tenant: TENANT,
        tls: {
          ca: join(tlsDir, "ca.crt"),
          cert: join(tlsDir, "grpc-client.crt"),
          key: join(tlsDir, "grpc-client.key"),
          serverName: GRPC_SERVER_NAME,
        },
      },
      load,
      receiveSessions,
    );
    await started.stop();

    const anchor = new Started(exe);
    try {
      const a = anchorProcess(p, dir);
      await anchor.start([a]);
      const files = httpClientFiles(dir);
      const alone = await measure(
        tool,
        {
          url: `https://${a.ip}:${ANCHOR_PORT}/api/v1/write`,
          tls: files,
        },
        load,
        new Set(anchor.records.map((r) => r.pid)),
      );
      rows = [
        { what: "receive (2 routers, 3 ingesters, RF 3)", m: fleet, series: load.series, load },
        { what: "anchor (1 Prometheus)", m: alone, series: load.series, load },
      ];
    } finally {
      await anchor.stop();
    }
    loadLine =
      `${load.series} active series, one sample each every ${load.intervalS} s ` +
      `(${Math.round(load.series / load.intervalS)} samples/s offered) for ${load.durationS} s, ` +
      `${load.concurrency} senders of 2000-sample requests; load average ${load1.toFixed(2)} at the start`;
    return rows.flatMap(figures);
  } finally {
    await started.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: "receive",
  description:
    "sustained remote-write ingest: the fleet's receive path beside one Prometheus taking the same stream (binaries cached; runs only when named)",
  runs: 1,
  onlyWhenNamed: true,
  options: {
    series: "active series (default 50000)",
    interval: "seconds between two samples of a series (default 2)",
    duration: "seconds of load on each side (default 90)",
    concurrency: "requests in flight at most (default 8)",
  },
  async prepare(options) {
    loadOf(options);
    await requireBinaries(receiveTopology(), OPTIONS);
  },
  run: (_i, options) => benchReceive(loadOf(options)),
  summary: () =>
    [
      loadLine,
      "",
      table(
        ["", "ACCEPTED/S", "STATUSES", "P50", "P99", "MAX", "LATE ROUNDS", "CPU-S", "RSS IDLE → LOADED"],
        rows.map((r) => [
          r.what,
          String(Math.round(acceptedPerSecond(r.m, r.load))),
          Object.entries(r.m.load.statuses)
            .map(([s, n]) => `${s}×${n}`)
            .join(" "),
          `${r.m.load.latencyMs.p50.toFixed(1)} ms`,
          `${r.m.load.latencyMs.p99.toFixed(1)} ms`,
          `${r.m.load.latencyMs.max.toFixed(1)} ms`,
          `${r.m.load.lateRounds}/${r.m.load.rounds}`,
          r.m.cpuSeconds.toFixed(1),
          `${Math.round(r.m.idleRssBytes / 2 ** 20)} → ${Math.round(r.m.rssBytes / 2 ** 20)} MiB`,
        ]),
      ),
      ...rows
        .filter((r) => r.m.load.firstError)
        .map((r) => `${r.what}: first refusal: ${r.m.load.firstError}`),
      "",
    ].join("\n"),
};
