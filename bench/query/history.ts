// Weeks of history in a setup's own bucket, made once per set of parameters and kept in the cache: TSDB blocks written
// by tools/tsdbgen for each Prometheus replica of each workload cluster (once, shared by every setup), shipped by
// Thanos's bucket tool with the replica's external labels (the sidecar's shipper), then compacted and downsampled by
// the setup's own compactor: the guide's (no deduplication) or the fleet's (offline deduplication of HA pairs).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { binaryPath, ensureBuilt, type GoBuild } from "../../scripts/kind-host/gobuild.ts";
import { binCacheDir } from "../../src/binaries/cache.ts";
import { TOOLS_DIR } from "../../src/binaries/catalog.ts";
import { prometheusLabels } from "../../src/components/thanos/sidecar.ts";
import { S3Client, s3HttpClient } from "../../src/net/s3.ts";
import type { ProcessPlan } from "../../src/runtimes/local/processes.ts";
import { logTail } from "../../src/runtimes/local/supervisor.ts";
import {
  type BenchFleet,
  objstoreFile,
  observerProcess,
  planBenchFleet,
  startStorage,
} from "../lib/fleet.ts";
import { guideCompactor } from "./configs.ts";

/** Whose compactor made the bucket: each setup has its own bucket, from the same generated blocks. */
export type Setup = "guide" | "fleet";

/** The compactor a setup runs over its bucket. */
export function compactorOf(fleet: BenchFleet, setup: Setup): ProcessPlan {
  const p = observerProcess(fleet, "compact");
  return setup === "fleet" ? p : guideCompactor(p);
}

export const SCRAPE_INTERVAL_S = 30;
const DAY_MS = 86_400_000;
const BLOCK_MS = 2 * 3_600_000;

export interface HistoryParams {
  /** Series per Prometheus replica (rounded up to whole pods of 20 series). */
  series: number;
  days: number;
}

export interface History extends HistoryParams {
  setup: Setup;
  /** The cache directory: the fleet's state dir, SeaweedFS's data with the bucket in it. */
  dir: string;
  /** The data's time range, Unix ms; its end is at least 30 min before it was made. */
  start: number;
  end: number;
  sources: { labels: Record<string, string>; series: number; samples: number; blocks: number }[];
  /** Size of the blocks as written, before compaction. */
  writtenBytes: number;
  /** The bucket after compaction and downsampling: blocks by resolution, their size and object count. */
  bucket: { resolution: string; blocks: number; bytes: number; objects: number }[];
  seconds: { generate: number; upload: number; compact: number; total: number };
  madeAt: string;
}

const HISTORY_FILE = "history.json";

/** tsdbgen, built once per version of its source like the repository's other Go programs. */
export async function buildTsdbgen(): Promise<string> {
  const dir = join(TOOLS_DIR, "tsdbgen");
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) h.update(await readFile(join(dir, f)));
  const build: GoBuild = {
    id: "tsdbgen",
    toolDir: "tsdbgen",
    version: `src-${h.digest("hex").slice(0, 12)}`,
    binaries: { tsdbgen: "thanos-fleet/tools/tsdbgen" },
  };
  await ensureBuilt(build, process.stderr);
  return binaryPath(build, "tsdbgen");
}

/** Where a setup's history is kept: a change of generator, its compactor or Thanos makes a new one. */
async function cacheDir(
  params: HistoryParams,
  generator: string,
  fleet: BenchFleet,
  setup: Setup,
): Promise<string> {
  const h = createHash("sha256").update(
    JSON.stringify({
      ...params,
      interval: SCRAPE_INTERVAL_S,
      generator,
      thanos: fleet.topology.fleet.versions.thanos,
      compact: compactorOf(fleet, setup).args.map((a) => a.replaceAll(fleet.plan.root, "")),
      sources: sources(fleet),
    }),
  );
  return join(dirname(binCacheDir()), "bench", `query-${setup}-${h.digest("hex").slice(0, 12)}`);
}

/** Where the generated blocks wait until every setup's bucket is made from them. */
function generatedDir(params: HistoryParams, generator: string, fleet: BenchFleet): string {
  const h = createHash("sha256").update(
    JSON.stringify({ ...params, interval: SCRAPE_INTERVAL_S, generator, sources: sources(fleet) }),
  );
  return join(dirname(binCacheDir()), "bench", `query-generated-${h.digest("hex").slice(0, 12)}`);
}

function sources(fleet: BenchFleet): Record<string, string>[] {
  return fleet.topology.workloads.flatMap((w) => w.replicaNames.map((pod) => prometheusLabels(w, pod)));
}

function log(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

interface Generated {
  start: number;
  end: number;
  made: { labels: Record<string, string>; series: number; samples: number; blocks: number; bytes: number }[];
  seconds: number;
}

/** The setup's cache directory for these parameters, the generated blocks' directory, and tsdbgen built. */
async function locate(
  params: HistoryParams,
  setup: Setup,
): Promise<{ generator: string; dir: string; blocksDir: string }> {
  const generator = await buildTsdbgen();
  // A first plan (in a scratch dir) only to learn the compactor's args and the sources for the cache key.
  const probe = await planBenchFleet(join(dirname(binCacheDir()), "bench", "plan-probe"));
  return {
    generator,
    dir: await cacheDir(params, generator, probe, setup),
    blocksDir: generatedDir(params, generator, probe),
  };
}

/** Removes the generated blocks once every setup's history is made from them. */
export async function dropGenerated(params: HistoryParams): Promise<void> {
  const { blocksDir } = await locate(params, "fleet");
  await rm(blocksDir, { recursive: true, force: true });
}

/**
 * Writes each replica's blocks into `<generated dir>/<n>` with tsdbgen, two at a time; kept until every setup's
 * history is complete, so that an interrupted preparation resumes. Starts no fleet process.
 */
export async function generateBlocks(params: HistoryParams): Promise<Generated> {
  const { generator, blocksDir } = await locate(params, "fleet");
  const doneFile = join(blocksDir, "done.json");
  if (existsSync(doneFile)) return JSON.parse(await readFile(doneFile, "utf8")) as Generated;
  await rm(blocksDir, { recursive: true, force: true });
  await mkdir(blocksDir, { recursive: true, mode: 0o700 });
  const fleet = await planBenchFleet(blocksDir);
  const t0 = performance.now();
  const end = Math.floor((Date.now() - 30 * 60_000) / BLOCK_MS) * BLOCK_MS;
  const start = end - params.days * DAY_MS;
  log(`writing ${params.days} d of ${params.series} series for ${sources(fleet).length} replicas …`);
  const made = await inParallel(sources(fleet), 2, async (labels, i) => {
    const summary = await runTool(generator, [
      `--out=${join(blocksDir, String(i))}`,
      `--series=${params.series}`,
      `--start=${start}`,
      `--end=${end}`,
      `--interval=${SCRAPE_INTERVAL_S}s`,
      `--seed=${i}`,
    ]);
    const s = JSON.parse(summary) as { series: number; samples: number; blocks: number; bytes: number };
    return { labels, ...s };
  });
  const generated: Generated = { start, end, made, seconds: (performance.now() - t0) / 1000 };
  await writeFile(doneFile, JSON.stringify(generated));
  return generated;
}

/** The setup's cached history for these parameters, made first if it is not there. */
export async function prepareHistory(params: HistoryParams, setup: Setup): Promise<History> {
  const { dir, blocksDir } = await locate(params, setup);
  const file = join(dir, HISTORY_FILE);
  if (existsSync(file)) {
    const history = JSON.parse(await readFile(file, "utf8")) as History;
    log(`${setup}: history cached in ${dir} (made ${history.madeAt})`);
    return history;
  }
  const { start, end, made, seconds } = await generateBlocks(params);
  // A bucket from an interrupted preparation is started afresh.
  const fleet = await planBenchFleet(dir);
  await rm(fleet.plan.root, { recursive: true, force: true });
  const t0 = performance.now() - seconds * 1000;
  const t1 = performance.now();

  const storage = await startStorage(fleet);
  let t2 = t1;
  let t3 = t1;
  try {
    const objstore = objstoreFile(fleet);
    await mkdir(dirname(objstore.path), { recursive: true, mode: 0o700 });
    await writeFile(objstore.path, objstore.content, { mode: 0o600 });
    await chmod(objstore.path, 0o600);
    const thanos = fleet.executables.get("thanos") as string;
    log(
      `uploading ${made.reduce((n, s) => n + s.blocks, 0)} blocks with thanos tools bucket upload-blocks …`,
    );
    await inParallel(made, 2, async (s, i) => {
      // The shipper skips what its record says it uploaded: a fresh bucket needs every block.
      await rm(join(blocksDir, String(i), "thanos.shipper.json"), { force: true });
      await runTool(thanos, [
        "tools",
        "bucket",
        "upload-blocks",
        `--objstore.config-file=${objstore.path}`,
        `--path=${join(blocksDir, String(i))}`,
        ...Object.entries(s.labels).map(([k, v]) => `--label=${k}="${v}"`),
      ]);
    });
    t2 = performance.now();
    log(`compacting and downsampling with the ${setup}'s compactor (one pass) …`);
    await runOnce(fleet, oneCompactorPass(compactorOf(fleet, setup)));
    t3 = performance.now();
    const bucket = await bucketSummary(fleet);
    const history: History = {
      ...params,
      setup,
      dir,
      start,
      end,
      sources: made.map(({ labels, series, samples, blocks }) => ({ labels, series, samples, blocks })),
      writtenBytes: made.reduce((n, s) => n + s.bytes, 0),
      bucket,
      seconds: {
        generate: (t1 - t0) / 1000,
        upload: (t2 - t1) / 1000,
        compact: (t3 - t2) / 1000,
        total: (t3 - t0) / 1000,
      },
      madeAt: new Date().toISOString(),
    };
    await writeFile(file, `${JSON.stringify(history, null, 2)}\n`);
    return history;
  } finally {
    await storage.stop();
  }
}

/**
 * The compactor as the fleet runs it, for one pass instead of forever: without `--wait` it compacts, downsamples,
 * applies retention and exits. It takes the blocks uploaded a minute ago (the 30 min consistency delay guards against
 * uploads still under way; these are done), and deletes the blocks it replaced at once rather than 48 h later: a
 * bucket that has held weeks of data holds none of those.
 */
export function oneCompactorPass(p: ProcessPlan): ProcessPlan {
  const args = [
    ...p.args.filter((a) => a !== "--wait" && !a.startsWith("--wait-interval=")),
    "--consistency-delay=0s",
    "--delete-delay=0s",
  ];
  return { ...p, args, log: join(dirname(p.log), "compact-once.log") };
}

/** Runs a planned process to its end, its output in its log; rejects with the log's tail unless it exits 0. */
async function runOnce(fleet: BenchFleet, p: ProcessPlan): Promise<void> {
  for (const d of p.dirs) await mkdir(d, { recursive: true, mode: 0o700 });
  for (const f of p.files) {
    await mkdir(dirname(f.path), { recursive: true, mode: 0o700 });
    await writeFile(f.path, f.content, { mode: 0o600 });
  }
  const executable = fleet.executables.get(p.binary) as string;
  const log = openSync(p.log, "a", 0o600);
  try {
    const how = await new Promise<string>((resolve, reject) => {
      const child = spawn(executable, p.args, { cwd: p.cwd, env: p.env, stdio: ["ignore", log, log] });
      child.on("error", reject);
      child.on("exit", (code, signal) =>
        resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`),
      );
    });
    if (how !== "exited with code 0") throw new Error(`${p.id} ${how}${logTail(p.log)}`);
  } finally {
    closeSync(log);
  }
}

/** Runs a command to its end; resolves to its stdout, rejects with its stderr's tail. */
export async function runTool(executable: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
      const tail = Buffer.concat(err).toString("utf8").trimEnd().split("\n").slice(-15).join("\n");
      reject(new Error(`${executable} ${args.slice(0, 3).join(" ")} … exited with code ${code}:\n${tail}`));
    });
  });
}

async function inParallel<T, R>(
  items: T[],
  width: number,
  f: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await f(items[i] as T, i);
      }
    }),
  );
  return results;
}

const RESOLUTIONS: Record<number, string> = { 0: "raw", 300000: "5m", 3600000: "1h" };

/** The bucket's blocks by resolution, read from their meta.json files, with their total size. */
async function bucketSummary(fleet: BenchFleet): Promise<History["bucket"]> {
  const { objectStore } = fleet.plan;
  const s3 = new S3Client(
    {
      url: `${fleet.plan.objectStoreTls ? "https" : "http"}://${objectStore.endpoint}`,
      bucket: objectStore.bucket,
      accessKey: objectStore.accessKey,
      secretKey: objectStore.secretKey,
    },
    s3HttpClient(fleet.plan.objectStoreTls ?? {}, 30_000),
  );
  const keys = await listAll(s3);
  const byBlock = new Map<string, { bytes: number; objects: number }>();
  for (const k of keys) {
    const block = k.key.split("/")[0] as string;
    const b = byBlock.get(block) ?? { bytes: 0, objects: 0 };
    byBlock.set(block, { bytes: b.bytes + (k.size ?? 0), objects: b.objects + 1 });
  }
  const out = new Map<string, { blocks: number; bytes: number; objects: number }>();
  for (const [block, { bytes, objects }] of byBlock) {
    if (!keys.some((k) => k.key === `${block}/meta.json`)) continue;
    const meta = JSON.parse(await s3.get(`${block}/meta.json`)) as {
      thanos?: { downsample?: { resolution?: number } };
    };
    const res = RESOLUTIONS[meta.thanos?.downsample?.resolution ?? 0] ?? "other";
    const row = out.get(res) ?? { blocks: 0, bytes: 0, objects: 0 };
    row.blocks++;
    row.bytes += bytes;
    row.objects += objects;
    out.set(res, row);
  }
  return [...out].map(([resolution, r]) => ({ resolution, ...r }));
}

async function listAll(s3: S3Client): Promise<{ key: string; size?: number }[]> {
  // S3Client.list follows continuation tokens itself.
  return (await s3.list()).keys;
}

/** Bytes under a directory (the cache's size on disk). */
export async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}
