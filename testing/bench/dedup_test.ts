// Offline deduplication of an HA pair, with the real compactor and the fleet's own compactor args: two replicas'
// overlapping blocks become one stream without the replica label, and query answers the same before and after.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { buildTsdbgen, runTool } from "../../bench/query/history.ts";
import { isExecutableFile } from "../../src/binaries/cache.ts";
import { binaryPath } from "../../src/binaries/resolve.ts";
import type { SpecContext } from "../../src/components/context.ts";
import { buildFleet } from "../../src/components/fleet.ts";
import { TEST_ADDRESSES, TEST_CREDENTIALS, testContext } from "../../src/components/testdata/spec.ts";
import { prometheusLabels } from "../../src/components/thanos/sidecar.ts";
import { DEFAULT_FLEET, parseFleet } from "../../src/topology/load.ts";
import { tempDir } from "../tempdir.ts";

const thanos = binaryPath("thanos");
const skip = isExecutableFile(thanos)
  ? false
  : `thanos not built at ${thanos}: run npm run binaries -- thanos`;
const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.86";
const HOUR = 3_600_000;

const creds = TEST_CREDENTIALS;
const _addresses = TEST_ADDRESSES;
const topology = parseFleet(DEFAULT_FLEET, "test");

/** The compactor's args as the fleet's spec gives them to both runtimes. */
function fleetCompactorArgs(): string[] {
  const ctx: SpecContext = testContext(topology, { demoScript: "demo.js" });
  const fleet = buildFleet(topology, ctx, creds);
  const c = fleet.pods.flatMap((p) => p.containers).find((x) => x.name === "thanos-compact");
  assert.ok(c, "the fleet has a compactor");
  return c.args;
}

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
});

function start(args: string[]): void {
  const child = spawn(thanos, args, { stdio: ["ignore", "ignore", "ignore"] });
  child.on("error", () => {});
  children.push(child);
}

async function ready(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} not ready after 120 s`);
    await sleep(500);
  }
}

interface Matrix {
  metric: Record<string, string>;
  values: [number, string][];
}

async function queryRange(
  url: string,
  query: string,
  from: number,
  to: number,
  step: number,
): Promise<Matrix[]> {
  const params = new URLSearchParams({
    query,
    start: String(from / 1000),
    end: String(to / 1000),
    step: String(step),
    dedup: "true",
  });
  params.append("replicaLabels[]", "prometheus_replica");
  const res = await fetch(`${url}/api/v1/query_range?${params}`);
  const body = (await res.json()) as { status: string; data: { result: Matrix[] }; error?: string };
  assert.equal(body.status, "success", `${query}: ${body.error}`);
  return body.data.result.sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}

async function blockLabels(bucket: string): Promise<{ labels: Record<string, string>; level: number }[]> {
  const out: { labels: Record<string, string>; level: number }[] = [];
  for (const ulid of await readdir(bucket)) {
    const dir = join(bucket, ulid);
    const files: string[] = await readdir(dir).catch(() => []);
    if (!files.includes("meta.json") || files.includes("deletion-mark.json")) continue;
    const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8"));
    out.push({ labels: meta.thanos.labels, level: meta.compaction.level });
  }
  return out;
}

test(
  "the fleet's compactor merges an HA pair's overlapping blocks into one stream, and query answers the same",
  { skip, timeout: 600_000 },
  async () => {
    const dir = await tempDir("dedup-");
    const w = topology.workloads[0];
    assert.ok(w && w.replicaNames.length === 2, "the default fleet's first workload runs an HA pair");
    const generator = await buildTsdbgen();
    // A day ago, on a 2 h boundary: inside the fleet's retention, which the compactor applies too.
    const begin = Math.floor((Date.now() - 24 * HOUR) / (2 * HOUR)) * 2 * HOUR;
    const end = begin + 8 * HOUR;
    const before = join(dir, "before");
    const objstore = (path: string) => `type: FILESYSTEM\nconfig:\n  directory: ${path}\n`;
    await writeFile(join(dir, "before.yaml"), objstore(before));
    for (const [i, pod] of w.replicaNames.entries()) {
      const out = join(dir, `gen${i}`);
      await runTool(generator, [
        `--out=${out}`,
        "--series=40",
        `--start=${begin}`,
        `--end=${end}`,
        `--seed=${i}`,
      ]);
      await runTool(thanos, [
        "tools",
        "bucket",
        "upload-blocks",
        `--objstore.config-file=${join(dir, "before.yaml")}`,
        `--path=${out}`,
        ...Object.entries(prometheusLabels(w, pod)).map(([k, v]) => `--label=${k}="${v}"`),
      ]);
    }
    const uploaded = await blockLabels(before);
    assert.equal(uploaded.length, 8, "4 blocks of 2 h from each replica");

    // The same bucket, compacted by one pass of the compactor with the fleet's args.
    const compacted = join(dir, "after");
    await cp(before, compacted, { recursive: true });
    await writeFile(join(dir, "after.yaml"), objstore(compacted));
    const args = fleetCompactorArgs()
      .filter((a) => a !== "--wait" && !a.startsWith("--wait-interval="))
      .map((a) =>
        a.startsWith("--objstore.config-file=") ? `--objstore.config-file=${join(dir, "after.yaml")}` : a,
      )
      .map((a) => (a.startsWith("--data-dir=") ? `--data-dir=${join(dir, "compact")}` : a))
      .map((a) => (a.startsWith("--http-address=") ? `--http-address=${SUBNET}.0.3:10902` : a));
    assert.ok(args.includes("--deduplication.replica-label=prometheus_replica"));
    assert.ok(args.includes("--deduplication.func=penalty"));
    await runTool(thanos, [...args, "--consistency-delay=0s", "--delete-delay=0s"]);

    const left = await blockLabels(compacted);
    assert.ok(left.length > 0, "the compactor left blocks");
    for (const b of left) {
      assert.deepEqual(
        b.labels,
        w.labels,
        "every block is one deduplicated stream, without the replica label",
      );
      assert.ok(b.level > 1, "made by the compactor");
    }
    assert.ok(left.length < uploaded.length, `${left.length} blocks from ${uploaded.length}`);

    // Store gateway and query over each bucket; query deduplicates on the replica label as the fleet's does.
    const urls: string[] = [];
    for (const [i, name] of ["before", "after"].entries()) {
      const host = `${SUBNET}.0.${10 + i}`;
      start([
        "store",
        `--objstore.config-file=${join(dir, `${name}.yaml`)}`,
        `--data-dir=${join(dir, `store-${name}`)}`,
        `--grpc-address=${host}:10901`,
        `--http-address=${host}:10902`,
      ]);
      start([
        "query",
        `--endpoint=${host}:10901`,
        "--query.replica-label=prometheus_replica",
        `--grpc-address=${host}:10911`,
        `--http-address=${host}:10912`,
      ]);
      await ready(`http://${host}:10902`);
      await ready(`http://${host}:10912`);
      urls.push(`http://${host}:10912`);
    }
    const [urlBefore, urlAfter] = urls as [string, string];
    // Nothing invented, nothing lost: each raw sample left is one replica's sample at that instant, exactly, and no
    // series has a hole longer than a replica's own scrape interval plus the offset between the two replicas.
    const raw = async (url: string, dedup: boolean) => {
      const params = new URLSearchParams({
        query: '{__name__=~"http_requests_total|container_memory_working_set_bytes"}[8h]',
        time: String(end / 1000),
        dedup: String(dedup),
      });
      const res = await fetch(`${url}/api/v1/query?${params}`);
      const body = (await res.json()) as { data: { result: Matrix[] } };
      return body.data.result;
    };
    const key = (m: Record<string, string>) => {
      const { prometheus_replica: _, ...rest } = m;
      return JSON.stringify(Object.entries(rest).sort());
    };
    let replicas: Matrix[] = [];
    for (let n = 0; n < 60 && replicas.length === 0; n++) {
      replicas = await raw(urlBefore, false);
      if (replicas.length === 0) await sleep(1000);
    }
    const merged = await raw(urlAfter, false);
    const known = new Map<string, Map<number, string>>();
    for (const s of replicas) {
      const m = known.get(key(s.metric)) ?? new Map<number, string>();
      for (const [t, v] of s.values) m.set(t, v);
      known.set(key(s.metric), m);
    }
    assert.equal(merged.length, known.size, "one series per replicated series");
    for (const s of merged) {
      const mine = known.get(key(s.metric));
      assert.ok(mine, `${JSON.stringify(s.metric)} is a replica's series`);
      for (const [t, v] of s.values)
        assert.equal(v, mine.get(t), `${JSON.stringify(s.metric)} at ${t}: a replica's sample`);
      for (let i = 1; i < s.values.length; i++) {
        const gap = (s.values[i] as [number, string])[0] - (s.values[i - 1] as [number, string])[0];
        assert.ok(gap <= 30 + 20, `${JSON.stringify(s.metric)}: a ${gap} s hole at ${s.values[i]?.[0]}`);
      }
    }

    // Query answers. A gauge's are exact. A rate's may move where the window holds samples of the other replica:
    // the compactor's penalty merge starts again on each group of overlapping chunks (each hour here), query's on
    // each query, so they switch replicas at other instants, and the two replicas scrape 10 s apart; measured up to
    // 0.25 %, so 1 % relative.
    const queries = [
      { q: "container_memory_working_set_bytes", tolerance: 1e-9 },
      { q: "sum by (namespace) (rate(http_requests_total[5m]))", tolerance: 0.01 },
      {
        q: "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[10m])))",
        tolerance: 0.01,
      },
    ];
    for (const { q, tolerance } of queries) {
      const [a, b] = await Promise.all([
        queryRange(urlBefore, q, begin + HOUR, end - 60_000, 60),
        queryRange(urlAfter, q, begin + HOUR, end - 60_000, 60),
      ]);
      assert.ok(a.length > 0, `${q}: an answer from the bucket before`);
      assert.deepEqual(
        b.map((s) => s.metric),
        a.map((s) => s.metric),
        `${q}: the same series`,
      );
      for (const [i, s] of a.entries()) {
        const t = b[i] as Matrix;
        assert.deepEqual(
          t.values.map((v) => v[0]),
          s.values.map((v) => v[0]),
          `${q} ${JSON.stringify(s.metric)}: the same timestamps`,
        );
        for (const [j, [ts, v]] of s.values.entries()) {
          const x = Number(v);
          const y = Number((t.values[j] as [number, string])[1]);
          assert.ok(
            Math.abs(x - y) <= tolerance * Math.max(Math.abs(x), Math.abs(y)),
            `${q} ${JSON.stringify(s.metric)} at ${ts}: ${x} before, ${y} after (tolerance ${tolerance})`,
          );
        }
      }
    }
  },
);
