// Check 4: the bucket answers Thanos's key, and every workload replica's blocks are in it with the right labels.
import { prometheusLabels } from "../../components/thanos.ts";
import { formatDuration } from "../duration.ts";
import { describeLabels, inspectHint, sameLabels, target, workloadOf } from "../expect.ts";
import { HttpError } from "../http.ts";
import { metricValue } from "../metrics.ts";
import type { BlockMeta, Bucket, Probe } from "../probe.ts";
import { type CheckInfo, fail, type Problem, pass, pending, plural, reason } from "../result.ts";
import { S3Error } from "../s3.ts";
import type { CheckResult } from "../types.ts";
import { readStores } from "./stores.ts";
import { blockDurationMs, clock, dataSince, firstBlockDue } from "./timing.ts";

export const OBJSTORE: CheckInfo = { id: "objstore", title: "object storage holds every cluster's blocks" };

/** Why the bucket could not be read, as a problem a user can act on. */
export function bucketProblem(probe: Probe, error: unknown): Problem {
  const { url, bucket, accessKey } = probe.endpoints.objectStore;
  const keyFix =
    "the key in the state dir's credentials.yaml must be the one the object store was set up with: " +
    "`thanos-fleet up` re-creates Thanos's key in MinIO; for an external store, fix credentialsFile";
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
          fix: `give the key read/write on ${bucket} (\`thanos-fleet up\` sets the policy on MinIO)`,
        };
      case "NoSuchBucket":
        return {
          what: `bucket ${bucket} does not exist at ${url}`,
          cause: "the bucket was never created or was deleted",
          fix: "`thanos-fleet up` creates it on MinIO; for an external store, create it there",
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
        ? "the object store is down (MinIO in the storage cluster is not running)"
        : "the object store is not reachable from here (address or NodePort wrong, or the process hangs)",
    fix: "check the storage cluster with `thanos-fleet status`",
  };
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
  const blockMs = blockDurationMs(probe.endpoints);
  return probe.topology.workloads.flatMap((w) =>
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

async function uploadFailures(probe: Probe, workload: string, pod: string): Promise<string> {
  const t = target(probe.endpoints, workload, "sidecar", pod);
  if (!t) return "";
  try {
    const samples = await probe.metrics(t);
    const failures = metricValue(samples, "thanos_shipper_upload_failures_total") ?? 0;
    const uploads = metricValue(samples, "thanos_shipper_uploads_total") ?? 0;
    return failures > 0 ? ` (its sidecar reports ${failures} failed and ${uploads} successful uploads)` : "";
  } catch {
    return "";
  }
}

export async function checkObjectStore(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  let bucket: Bucket;
  try {
    bucket = await probe.bucket();
  } catch (error) {
    return fail(OBJSTORE, [bucketProblem(probe, error)]);
  }
  const now = probe.now().getTime();
  const replicas = await replicaBlocks(probe, bucket);
  const problems: Problem[] = [];
  const waiting: { text: string; due?: number }[] = [];
  const blockLen = formatDuration(blockDurationMs(endpoints));

  for (const w of topology.workloads) {
    const mine = replicas.filter((r) => r.workload === w.name);
    const withBlocks = mine.filter((r) => r.blocks.length > 0);
    for (const r of mine) {
      if (r.blocks.length > 0) continue;
      if (r.due !== undefined && now < r.due) {
        waiting.push({
          text: `${w.name}/${r.pod}: first block due by ${clock(r.due)} (${blockLen} blocks)`,
          due: r.due,
        });
        continue;
      }
      if (r.dataSince === undefined && withBlocks.length === 0) {
        waiting.push({
          text: `${w.name}/${r.pod}: no block yet, and query lists no data for it to tell its age`,
        });
        continue;
      }
      const age = r.dataSince === undefined ? "" : ` after ${formatDuration(now - r.dataSince)} of data`;
      problems.push({
        what: `no block from ${w.name}/${r.pod} ${describeLabels(r.labels)}${age}${await uploadFailures(probe, w.name, r.pod)}`,
        cause: `its sidecar cannot upload to the bucket: a wrong key or endpoint in its objstore config, or the object store is unreachable from ${w.name}`,
        fix: inspectHint(topology, endpoints, w.name, r.pod, "thanos-sidecar"),
      });
    }
  }

  // Blocks that claim a workload cluster but carry labels no replica of it has: dedup and compaction would mix them up.
  const expected = replicas.map((r) => r.labels);
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

  const others = bucket.blocks.length - replicas.reduce((n, r) => n + r.blocks.length, 0) - strays.length;
  const summary =
    `bucket ${endpoints.objectStore.bucket}: ${plural(bucket.blocks.length, "block")}; ` +
    topology.workloads
      .map(
        (w) =>
          `${w.name} ${replicas.filter((r) => r.workload === w.name).reduce((n, r) => n + r.blocks.length, 0)}`,
      )
      .join(", ") +
    (others > 0 ? `, others (rulers) ${others}` : "");
  if (problems.length > 0) return fail(OBJSTORE, problems, summary);
  if (waiting.length > 0) {
    const dues = waiting.map((w) => w.due);
    const expectedBy = dues.every((d) => d !== undefined)
      ? new Date(Math.max(...(dues as number[])))
      : undefined;
    return pending(
      OBJSTORE,
      `reachable with key ${endpoints.objectStore.accessKey}; ${summary}; ${waiting.map((w) => w.text).join("; ")}`,
      expectedBy,
    );
  }
  return pass(OBJSTORE, `reachable with key ${endpoints.objectStore.accessKey}; ${summary}`);
}
