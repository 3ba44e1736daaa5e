// The `objstore` check: the bucket answers Thanos's key, and every workload replica's blocks are in it with the right
// labels: its own, or merged by the compactor into its workload's deduplicated blocks.
import { prometheusLabels } from "../../components/thanos/sidecar.ts";
import { formatDuration } from "../../duration.ts";
import { HttpError } from "../../net/http.ts";
import { S3Error } from "../../net/s3.ts";
import { metricValue } from "../../probes/metrics.ts";
import { RECEIVE_REPLICA_LABEL, TENANT_LABEL } from "../../topology/semantics.ts";
import { describeLabels, inspectHint, sameLabels, sidecarWorkloads, target, workloadOf } from "../expect.ts";
import type { BlockMeta, Bucket, Probe } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, pending, plural, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";
import { readStores } from "./stores.ts";
import { blockDurationMs, clock, dataSince, firstBlockDue } from "./timing.ts";

export const OBJSTORE: CheckInfo = { id: "objstore", title: "object storage holds every cluster's blocks" };

/** Why the bucket could not be read, as a problem a user can act on. */
export function bucketProblem(probe: Probe, error: unknown): CheckProblem {
  const { url, bucket, accessKey } = probe.endpoints.objectStore;
  const keyFix =
    "the key in the state dir's credentials.yaml must be the one the object store was set up with: " +
    "`thanos-fleet up` sets Thanos's key up in the storage cluster again; for an external store, fix credentialsFile";
  if (error instanceof S3Error) {
    switch (error.code) {
      case "InvalidAccessKeyId":
        return {
          what: `${url} does not know access key ${accessKey}`,
          cause: "wrong access key for the object store",
          fix: keyFix,
        };
      case "SignatureDoesNotMatch":
        return {
          what: `${url} rejected the secret key of ${accessKey}`,
          cause: "wrong secret key for the object store",
          fix: keyFix,
        };
      case "AccessDenied":
      case "Forbidden":
        return {
          what: `access key ${accessKey} may not list bucket ${bucket} (${error.status} ${error.code})`,
          cause: "the key exists but its policy does not cover this bucket",
          fix: `give the key read/write on ${bucket} (\`thanos-fleet up\` does so in the storage cluster)`,
        };
      case "NoSuchBucket":
        return {
          what: `bucket ${bucket} does not exist at ${url}`,
          cause: "the bucket was never created or was deleted",
          fix: "`thanos-fleet up` creates it in the storage cluster; for an external store, create it there",
        };
      default:
        return {
          what: `${url} answered ${error.message}`,
          cause: "the object store refused the request",
          fix: "check the object store's logs",
        };
    }
  }
  return {
    what: `object store at ${url} unreachable: ${reason(error)}`,
    cause:
      error instanceof HttpError && error.kind === "refused"
        ? "the object store is down (the storage cluster's S3 server is not running)"
        : "the object store is not reachable from here (address or NodePort wrong, or the process hangs)",
    fix: "check the storage cluster with `thanos-fleet status`",
  };
}

/**
 * Thanos's key proved scoped by requests the object store must refuse: list and delete the scope-check bucket (made
 * by the admin identity), create a bucket. Only for the fleet's own storage cluster, where the bucket exists.
 */
export async function scopeProblems(probe: Probe): Promise<{ problems: CheckProblem[]; proved: boolean }> {
  const { scopeCheckBucket: other, bucket, accessKey } = probe.endpoints.objectStore;
  if (!other) return { problems: [], proved: false };
  const fix = `Thanos's key must be allowed only on ${bucket}: \`thanos-fleet up\` writes its identity (SeaweedFS) or policy (MinIO) again`;
  const attempts: { what: string; run: () => Promise<unknown> }[] = [
    { what: `list bucket ${other}`, run: () => probe.s3.forBucket(other).list() },
    { what: `create bucket ${other}-new`, run: () => probe.s3.forBucket(`${other}-new`).createBucket() },
    { what: `delete bucket ${other}`, run: () => probe.s3.forBucket(other).deleteBucket() },
  ];
  const problems: CheckProblem[] = [];
  for (const a of attempts) {
    try {
      await a.run();
      problems.push({
        what: `access key ${accessKey} may ${a.what}`,
        cause: "the key is not scoped to the fleet's bucket",
        fix,
      });
    } catch (error) {
      if (error instanceof S3Error && error.status === 403) continue;
      if (error instanceof S3Error && error.code === "NoSuchBucket") {
        problems.push({
          what: `bucket ${other} does not exist, so the key's scope is not proved`,
          cause: "the storage cluster's setup did not run, or the bucket was deleted",
          fix: "`thanos-fleet up` creates it with the admin identity",
        });
        break;
      }
      problems.push({
        what: `${a.what} with access key ${accessKey} was not refused as forbidden: ${reason(error)}`,
        cause: "the object store answered something other than 403 Access Denied",
        fix: "check the object store's logs",
      });
    }
  }
  return { problems, proved: problems.length === 0 };
}

export interface ReplicaBlocks {
  workload: string;
  pod: string;
  labels: Record<string, string>;
  blocks: BlockMeta[];
  dataSince?: number;
  due?: number;
}

/** Blocks grouped by the workload replica that produced them, with when the first one is due. */
export async function replicaBlocks(probe: Probe, bucket: Bucket): Promise<ReplicaBlocks[]> {
  const now = probe.now().getTime();
  const { views } = await readStores(probe);
  const blockMs = await blockDurationMs(probe);
  return sidecarWorkloads(probe.topology).flatMap((w) =>
    w.replicaNames.map((pod) => {
      const labels = prometheusLabels(w, pod);
      const since = dataSince(views, labels, now);
      return {
        workload: w.name,
        pod,
        labels,
        blocks: bucket.blocks.filter((b) => sameLabels(b.labels, labels)),
        dataSince: since,
        due: since === undefined ? undefined : firstBlockDue(since, blockMs),
      };
    }),
  );
}

/**
 * A workload's deduplicated blocks: the compactor merged its replicas' blocks into them (DEDUPLICATION_ARGS), so they
 * carry the workload's labels without the replica label.
 */
export function deduplicatedBlocks(w: Probe["topology"]["workloads"][number], bucket: Bucket): BlockMeta[] {
  return bucket.blocks.filter((b) => sameLabels(b.labels, w.labels));
}

/** What the replica's sidecar says of its uploads; undefined when its metrics cannot be read. */
async function shipperCounts(
  probe: Probe,
  workload: string,
  pod: string,
): Promise<{ uploads: number; failures: number } | undefined> {
  const t = target(probe.endpoints, workload, "sidecar", pod);
  if (!t) return undefined;
  try {
    const samples = await probe.metrics(t);
    return {
      failures: metricValue(samples, "thanos_shipper_upload_failures_total") ?? 0,
      uploads: metricValue(samples, "thanos_shipper_uploads_total") ?? 0,
    };
  } catch {
    return undefined;
  }
}

function uploadFailures(counts: { uploads: number; failures: number } | undefined): string {
  return counts && counts.failures > 0
    ? ` (its sidecar reports ${counts.failures} failed and ${counts.uploads} successful uploads)`
    : "";
}

interface Waiting {
  workload: string;
  pod: string;
  note: string;
  due?: number;
}

/** `biz1, biz2: first block due by 04:10` — a workload by name when all its replicas wait alike, else each replica. */
function groupWaiting(topology: Probe["topology"], waiting: Waiting[]): string {
  const byNote = new Map<string, string[]>();
  for (const w of sidecarWorkloads(topology)) {
    const mine = waiting.filter((x) => x.workload === w.name);
    const notes = new Set(mine.map((x) => x.note));
    const names =
      mine.length === w.replicaNames.length && notes.size === 1
        ? [w.name]
        : mine.map((x) => `${x.workload}/${x.pod}`);
    mine.forEach((x, i) => {
      const name = names[names.length === 1 ? 0 : i] as string;
      const list = byNote.get(x.note) ?? [];
      if (!list.includes(name)) list.push(name);
      byNote.set(x.note, list);
    });
  }
  return [...byNote].map(([note, names]) => `${names.join(", ")}: ${note}`).join("; ");
}

/**
 * Uncompacted raw blocks of one label set that overlap: only two producers with the same labels make those. Not a
 * receive ingester's own: in Thanos v0.42.4 an ingester stopped while its periodic head compaction writes a block
 * flushes the same head again at shutdown, and ships both (seen in the ingester-rollout drill: 15:33-15:34 and
 * 15:33-15:35 written within a second of each other). Both hold the same samples of one producer, and the fleet's
 * compactor, which deduplicates offline and so compacts vertically, merges them.
 */
export function overlaps(blocks: BlockMeta[]): { labels: string; a: string; b: string }[] {
  const byLabels = new Map<string, BlockMeta[]>();
  for (const b of blocks) {
    if (b.level !== 1 || b.resolution !== 0 || b.labels[RECEIVE_REPLICA_LABEL] !== undefined) continue;
    const key = describeLabels(b.labels);
    byLabels.set(key, [...(byLabels.get(key) ?? []), b]);
  }
  const out: { labels: string; a: string; b: string }[] = [];
  for (const [labels, list] of byLabels) {
    list.sort((x, y) => x.minTime - y.minTime);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as BlockMeta;
      const cur = list[i] as BlockMeta;
      if (cur.minTime < prev.maxTime) out.push({ labels, a: prev.ulid, b: cur.ulid });
    }
  }
  return out;
}

export async function checkObjectStore(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  // The key's scope is proved while the bucket is read: its three requests are not added to the time of the check.
  const scopeRead = scopeProblems(probe);
  let bucket: Bucket;
  try {
    bucket = await probe.bucket();
  } catch (error) {
    scopeRead.catch(() => {});
    return fail(OBJSTORE, [bucketProblem(probe, error)]);
  }
  const now = probe.now().getTime();
  const [replicas, scope] = await Promise.all([replicaBlocks(probe, bucket), scopeRead]);
  const problems: CheckProblem[] = [...scope.problems];
  const waiting: Waiting[] = [];
  const blockLen = formatDuration(await blockDurationMs(probe));

  for (const w of sidecarWorkloads(topology)) {
    const mine = replicas.filter((r) => r.workload === w.name);
    const withBlocks = mine.filter((r) => r.blocks.length > 0);
    const merged = deduplicatedBlocks(w, bucket).length > 0;
    for (const r of mine) {
      if (r.blocks.length > 0) continue;
      // Its blocks may all have been merged into the deduplicated ones (and deleted after the compactor's delete
      // delay); those do not say which replica they came from, its sidecar's upload count does.
      const shipped = merged ? await shipperCounts(probe, w.name, r.pod) : undefined;
      if (shipped && shipped.uploads > 0 && shipped.failures === 0) continue;
      if (r.due !== undefined && now < r.due) {
        waiting.push({
          workload: w.name,
          pod: r.pod,
          note: `first block due by ${clock(r.due)} (${blockLen} blocks)`,
          due: r.due,
        });
        continue;
      }
      if (r.dataSince === undefined && withBlocks.length === 0) {
        waiting.push({
          workload: w.name,
          pod: r.pod,
          note: "no block yet, and query lists no data to tell its age",
        });
        continue;
      }
      const age = r.dataSince === undefined ? "" : ` after ${formatDuration(now - r.dataSince)} of data`;
      problems.push({
        what: `no block from ${w.name}/${r.pod} ${describeLabels(r.labels)}${age}${uploadFailures(shipped ?? (await shipperCounts(probe, w.name, r.pod)))}`,
        cause: `its sidecar cannot upload to the bucket: a wrong key or endpoint in its objstore config, or the object store is unreachable from ${w.name}`,
        fix: inspectHint(topology, endpoints, w.name, r.pod, "thanos-sidecar"),
      });
    }
  }

  // Blocks that claim a workload cluster but carry labels no replica of it has: dedup and compaction would mix them up.
  const expected = [...replicas.map((r) => r.labels), ...topology.workloads.map((w) => w.labels)];
  const strays = bucket.blocks.filter(
    (b) => workloadOf(topology, b.labels) && !expected.some((l) => sameLabels(l, b.labels)),
  );
  const strayLabels = [...new Set(strays.map((b) => describeLabels(b.labels)))];
  for (const labels of strayLabels) {
    problems.push({
      what: `${plural(strays.filter((b) => describeLabels(b.labels) === labels).length, "block")} labelled ${labels}, which no replica in fleet.yaml carries`,
      cause:
        "a Prometheus ran with other external labels (an older configuration, or a replica label other than prometheus_replica)",
      fix: "fix the external labels; old blocks can be relabelled with `thanos tools bucket rewrite` or deleted",
    });
  }

  for (const o of overlaps(bucket.blocks)) {
    problems.push({
      what: `blocks ${o.a} and ${o.b} of ${o.labels} overlap in time`,
      cause:
        "two Prometheus upload under one external label set (a copy of a replica, or a replica label that is not unique): the compactor halts on overlapping blocks, or with vertical compaction merges them into one series for good",
      fix: "give every Prometheus its own external labels, then mark the extra blocks with `thanos tools bucket mark --marker=deletion-mark.json` and restart the compactor",
    });
  }

  // A receive-mode cluster's blocks come from the ingesters, labelled with its tenant (the receive check's).
  const tenantBlocks = (w: { name: string }) =>
    bucket.blocks.filter((b) => b.labels[TENANT_LABEL] === w.name);
  const perWorkload = topology.workloads.map((w) => {
    if (w.mode === "receive")
      return { name: w.name, own: tenantBlocks(w).length, deduplicated: 0, receive: true };
    const own = replicas.filter((r) => r.workload === w.name).reduce((n, r) => n + r.blocks.length, 0);
    const deduplicated = deduplicatedBlocks(w, bucket).length;
    return { name: w.name, own, deduplicated, receive: false };
  });
  const others =
    bucket.blocks.length - perWorkload.reduce((n, w) => n + w.own + w.deduplicated, 0) - strays.length;
  // Per replica until the compactor merges them (the replicas' blocks stay listed for its delete delay), then one
  // deduplicated stream per workload.
  const summary =
    `bucket ${endpoints.objectStore.bucket}: ${plural(bucket.blocks.length, "block")}; ` +
    perWorkload
      .map((w) =>
        w.receive
          ? `${w.name} ${w.own} (from the ingesters)`
          : `${w.name} ${w.own + w.deduplicated}${w.deduplicated > 0 ? ` (${w.deduplicated} deduplicated)` : ""}`,
      )
      .join(", ") +
    (others > 0 ? `, others (rulers) ${others}` : "");
  if (problems.length > 0) return fail(OBJSTORE, problems, summary);
  const scoped = scope.proved
    ? ` (refused creating buckets, listing and deleting ${endpoints.objectStore.scopeCheckBucket})`
    : "";
  if (waiting.length > 0) {
    const dues = waiting.map((w) => w.due);
    const expectedBy = dues.every((d) => d !== undefined)
      ? new Date(Math.max(...(dues as number[])))
      : undefined;
    return pending(
      OBJSTORE,
      `reachable with key ${endpoints.objectStore.accessKey}${scoped}; ${summary}; ${groupWaiting(topology, waiting)}`,
      expectedBy,
    );
  }
  return pass(OBJSTORE, `reachable with key ${endpoints.objectStore.accessKey}${scoped}; ${summary}`);
}
