// The objstore check on a bucket whose compactor deduplicates HA pairs offline: the deduplicated blocks count for
// their workload, a replica whose blocks were all merged is not missing, and one that never shipped still is.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FleetEndpoints, Target } from "../endpoints.ts";
import type { HttpClient } from "../net/http.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { checkObjectStore } from "./checks/objstore.ts";
import { Probe } from "./probe.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const NOW = new Date("2026-11-30T12:00:00Z");
const HOUR = 3_600_000;
const S3 = "http://127.77.3.1:32000";

interface Block {
  ulid: string;
  labels: Record<string, string>;
  level: number;
  sources?: string[];
}

/** A ULID of 26 Crockford characters, distinct per n. */
const ulid = (n: number) => `01JD${String(n).padStart(22, "0")}`;

function sidecars(): Target[] {
  return topology.workloads.flatMap((w) =>
    w.replicaNames.map((pod, i) => ({
      cluster: w.name,
      component: "sidecar" as const,
      pod,
      url: `http://sidecar-${w.name}-${i}.test:10902`,
    })),
  );
}

function endpoints(): FleetEndpoints {
  return {
    runtime: "local",
    targets: sidecars(),
    queryFrontend: "http://127.77.0.1:30900",
    blockDuration: "2h",
    objectStore: { url: S3, bucket: "thanos", accessKey: "thanos-key", secretKey: "secret" },
  };
}

/** A bucket holding these blocks, and sidecars reporting these upload counts (absent: unreachable). */
function server(blocks: Block[], uploads: Record<string, number>): HttpClient {
  return async (url: string) => {
    const u = new URL(url);
    if (u.origin === S3 && u.pathname === "/thanos") {
      const prefixes = blocks
        .map((b) => `<CommonPrefixes><Prefix>${b.ulid}/</Prefix></CommonPrefixes>`)
        .join("");
      return {
        status: 200,
        headers: {},
        body: `<ListBucketResult><IsTruncated>false</IsTruncated>${prefixes}</ListBucketResult>`,
      };
    }
    const meta = /^\/thanos\/([0-9A-Z]{26})\/meta\.json$/.exec(u.pathname);
    const b = meta && blocks.find((x) => x.ulid === meta[1]);
    if (u.origin === S3 && b) {
      const body = {
        ulid: b.ulid,
        minTime: NOW.getTime() - 30 * HOUR,
        maxTime: NOW.getTime() - 28 * HOUR,
        compaction: { level: b.level, sources: b.sources ?? [b.ulid] },
        thanos: { labels: b.labels, source: b.level > 1 ? "compactor" : "sidecar" },
      };
      return { status: 200, headers: {}, body: JSON.stringify(body) };
    }
    const sidecar = sidecars().find((t) => url === `${t.url}/metrics`);
    if (sidecar && uploads[sidecar.pod] !== undefined) {
      const body = `thanos_shipper_uploads_total ${uploads[sidecar.pod]}\nthanos_shipper_upload_failures_total 0\n`;
      return { status: 200, headers: {}, body };
    }
    return { status: 404, headers: {}, body: "not found" };
  };
}

const [biz1, biz2] = topology.workloads as [(typeof topology.workloads)[0], (typeof topology.workloads)[0]];
const replica = (w: typeof biz1, i: number) => ({
  ...w.labels,
  prometheus_replica: w.replicaNames[i] as string,
});

describe("objstore with offline deduplication", () => {
  it("counts a workload's deduplicated blocks as its own, not as blocks no replica carries", async () => {
    const blocks: Block[] = [
      { ulid: ulid(1), labels: replica(biz1, 0), level: 1 },
      { ulid: ulid(2), labels: replica(biz1, 1), level: 1 },
      { ulid: ulid(3), labels: biz1.labels, level: 2, sources: [ulid(1), ulid(2)] },
      { ulid: ulid(4), labels: replica(biz2, 0), level: 1 },
      { ulid: ulid(5), labels: replica(biz2, 1), level: 1 },
    ];
    const r = await checkObjectStore(new Probe(topology, endpoints(), server(blocks, {}), () => NOW));
    assert.equal(r.status, "pass", JSON.stringify(r));
    assert.match(r.detail, /5 blocks; biz1 3 \(1 deduplicated\), biz2 2$/);
  });

  it("a replica whose blocks were all merged and deleted is not missing: its sidecar shipped them", async () => {
    const blocks: Block[] = [
      { ulid: ulid(3), labels: biz1.labels, level: 2 },
      { ulid: ulid(6), labels: biz2.labels, level: 2 },
    ];
    const uploads = Object.fromEntries(topology.workloads.flatMap((w) => w.replicaNames.map((p) => [p, 4])));
    const r = await checkObjectStore(new Probe(topology, endpoints(), server(blocks, uploads), () => NOW));
    assert.equal(r.status, "pass", JSON.stringify(r));
    assert.match(r.detail, /biz1 1 \(1 deduplicated\), biz2 1 \(1 deduplicated\)/);
  });

  it("a replica that shipped nothing is missing, deduplicated blocks or not", async () => {
    const blocks: Block[] = [
      { ulid: ulid(1), labels: replica(biz1, 0), level: 1 },
      { ulid: ulid(3), labels: biz1.labels, level: 2 },
      { ulid: ulid(4), labels: replica(biz2, 0), level: 1 },
      { ulid: ulid(5), labels: replica(biz2, 1), level: 1 },
    ];
    const uploads = { [biz1.replicaNames[0] as string]: 4, [biz1.replicaNames[1] as string]: 0 };
    const r = await checkObjectStore(new Probe(topology, endpoints(), server(blocks, uploads), () => NOW));
    assert.equal(r.status, "fail", JSON.stringify(r));
    assert.match(r.detail, new RegExp(`^no block from biz1/${biz1.replicaNames[1]} [^;]*\\(bucket thanos`));
  });
});
