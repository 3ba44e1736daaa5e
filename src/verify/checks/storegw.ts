// The `store-gateway` check: the store gateway serves what is in the bucket: its advertised labels and time range
// cover the blocks.

import { STORE_GATEWAY_POD } from "../../components/thanos/store.ts";
import { metricValue } from "../../probes/metrics.ts";
import { labelSetKey } from "../../topology/semantics.ts";
import { inspectHint, target } from "../expect.ts";
import type { Bucket, Probe, StoreEntry } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, pending, plural, shortGrpcError } from "../result.ts";
import type { CheckResult } from "../types.ts";
import { bucketProblem, replicaBlocks } from "./objstore.ts";
import { readStores } from "./stores.ts";
import { clock, servedBy, syncIntervalMs } from "./timing.ts";

export const STORE_GATEWAY: CheckInfo = {
  id: "store-gateway",
  title: "store gateway serves the bucket's blocks",
};

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** What the store gateway says about its own bucket syncs, for the message; `failing` when syncs fail. */
async function syncTrouble(probe: Probe): Promise<{ text: string; failing: boolean }> {
  const t = target(probe.endpoints, probe.topology.observer.name, "store", STORE_GATEWAY_POD);
  if (!t) return { text: "", failing: false };
  try {
    const samples = await probe.metrics(t);
    const failures = metricValue(samples, "thanos_blocks_meta_sync_failures_total") ?? 0;
    const loadFailures = metricValue(samples, "thanos_bucket_store_block_load_failures_total") ?? 0;
    const loaded = metricValue(samples, "thanos_bucket_store_blocks_loaded");
    const parts = [
      failures > 0 ? `${failures} failed bucket syncs` : "",
      loadFailures > 0 ? `${loadFailures} failed block loads` : "",
      loaded !== undefined ? `${loaded} blocks loaded` : "",
    ].filter(Boolean);
    return {
      text: parts.length > 0 ? ` (it reports ${parts.join(", ")})` : "",
      failing: failures + loadFailures > 0,
    };
  } catch {
    return { text: "", failing: false };
  }
}

const CANNOT_READ =
  "the store gateway cannot read the bucket (a wrong key or endpoint in its objstore config): " +
  "it serves no gRPC until its first bucket sync succeeds";

export async function checkStoreGateway(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const mgmt = topology.observer.name;
  const hint = inspectHint(topology, endpoints, mgmt, STORE_GATEWAY_POD, "thanos-store");
  let bucket: Bucket;
  try {
    bucket = await probe.bucket();
  } catch (error) {
    const p = bucketProblem(probe, error);
    return fail(STORE_GATEWAY, [
      { ...p, what: `cannot compare with the bucket: ${p.what}`, cause: `${p.cause} (see check objstore)` },
    ]);
  }
  const now = probe.now().getTime();
  const syncMs = await syncIntervalMs(probe);
  const settled = bucket.blocks.filter((b) => servedBy(b.uploadedAt, syncMs) <= now);
  if (settled.length === 0) {
    if (bucket.blocks.length > 0) {
      const due = Math.max(...bucket.blocks.map((b) => servedBy(b.uploadedAt, syncMs)));
      return pending(
        STORE_GATEWAY,
        `${plural(bucket.blocks.length, "block")}, all uploaded moments ago; the store gateway loads them by ${clock(due)}`,
        new Date(due),
      );
    }
    const dues = (await replicaBlocks(probe, bucket)).map((r) => r.due);
    const expectedBy =
      dues.every((d) => d !== undefined) && dues.length > 0
        ? new Date(Math.max(...(dues as number[])) + syncMs)
        : undefined;
    return pending(
      STORE_GATEWAY,
      `no blocks in the bucket yet: nothing to serve${expectedBy ? ` (the first should be served by ${clock(expectedBy.getTime())})` : ""}`,
      expectedBy,
    );
  }

  const { views } = await readStores(probe);
  const storeTarget = target(endpoints, mgmt, "store", STORE_GATEWAY_POD);
  let entry: StoreEntry | undefined;
  let seenBy = "";
  for (const v of views) {
    const stores = v.entries.filter((s) => s.type === "store");
    entry = stores.find((s) => s.name === storeTarget?.grpc) ?? (stores.length === 1 ? stores[0] : undefined);
    seenBy = v.pod;
    if (entry) break;
  }
  if (!entry || entry.lastError) {
    const trouble = await syncTrouble(probe);
    const what = entry
      ? `store gateway ${entry.name} unhealthy on ${seenBy}: ${shortGrpcError(entry.lastError ?? "")}`
      : `no query replica lists the store gateway${views.length === 0 ? " (no query replica answered)" : ""}`;
    return fail(STORE_GATEWAY, [
      {
        what: `${what}${trouble.text}`,
        cause: trouble.failing
          ? CANNOT_READ
          : "the store gateway is down or unreachable from query (see check stores)",
        fix: hint,
      },
    ]);
  }

  const problems: CheckProblem[] = [];
  const served = new Set(entry.labelSets.map(labelSetKey));
  const groups = new Map<string, { min: number; max: number; count: number }>();
  for (const b of settled) {
    const key = labelSetKey(b.labels);
    const g = groups.get(key) ?? { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, count: 0 };
    groups.set(key, { min: Math.min(g.min, b.minTime), max: Math.max(g.max, b.maxTime), count: g.count + 1 });
  }
  const trouble = await syncTrouble(probe);
  for (const [key, g] of groups) {
    if (!served.has(key)) {
      problems.push({
        what: `store gateway does not serve {${key}}: ${plural(g.count, "block")} since ${iso(g.min)} in the bucket${trouble.text}`,
        cause: trouble.failing
          ? CANNOT_READ
          : `the store gateway has not loaded these blocks (it re-reads the bucket every ${Math.round(syncMs / 1000)}s)`,
        fix: hint,
      });
    }
  }
  const min = Math.min(...[...groups.values()].map((g) => g.min));
  const max = Math.max(...[...groups.values()].map((g) => g.max));
  if (problems.length === 0 && (entry.minTime > min || entry.maxTime < max)) {
    problems.push({
      what: `store gateway advertises ${iso(entry.minTime)} to ${iso(entry.maxTime)}, the bucket holds ${iso(min)} to ${iso(max)}${trouble.text}`,
      cause:
        "the store gateway has not loaded every block (a failed sync, or --min-time/--max-time limit it)",
      fix: hint,
    });
  }
  if (problems.length > 0) return fail(STORE_GATEWAY, problems);
  const fresh = bucket.blocks.length - settled.length;
  return pass(
    STORE_GATEWAY,
    `${entry.name} serves ${plural(groups.size, "label set")} from ${iso(entry.minTime)} to ${iso(entry.maxTime)}, ` +
      `covering ${plural(settled.length, "block")}${fresh > 0 ? ` (${fresh} newer ones load at the next sync)` : ""}`,
  );
}
