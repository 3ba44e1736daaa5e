// doctor: reads any Thanos it can reach, changes nothing, and names the known misconfigurations it finds, each with
// what it read and the fix.
import type { HttpClient } from "../net/http.ts";
import { overlappingBlocks, uncompactedBlocks, uploadGaps } from "./checks/bucket.ts";
import { compactorHalted, compactorsShareBucket, retentionTooShort } from "./checks/compactor.ts";
import {
  clockSkew,
  sidecarsNotUploading,
  storeMemoryOverLimit,
  storeWithoutLimits,
  unreachable,
  versionSkew,
} from "./checks/components.ts";
import { frontendCacheBypassed, frontendUnaligned } from "./checks/frontend.ts";
import { noAutoDownsampling, timeoutsUndoEachOther } from "./checks/query.ts";
import {
  dedupAcrossClusters,
  duplicateLabelSets,
  flappingStores,
  missingClusterLabel,
  replicasNotDeduplicated,
  storesListedTwice,
  unhealthyStores,
} from "./checks/stores.ts";
import { type ObserveOptions, observe } from "./observe.ts";
import type { DoctorReport, Finding, Observation, Severity } from "./types.ts";

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Every check over one observation, most severe first. */
export function diagnose(o: Observation): Finding[] {
  const halted = compactorHalted(o);
  const findings = [
    ...unhealthyStores(o),
    ...flappingStores(o),
    ...storesListedTwice(o),
    ...duplicateLabelSets(o),
    ...replicasNotDeduplicated(o),
    ...dedupAcrossClusters(o),
    ...missingClusterLabel(o),
    ...halted,
    ...compactorsShareBucket(o),
    ...retentionTooShort(o),
    // A halted compactor's finding already names the overlaps that halted it.
    ...overlappingBlocks(o, halted.length > 0),
    ...uploadGaps(o),
    ...uncompactedBlocks(o),
    ...noAutoDownsampling(o),
    ...timeoutsUndoEachOther(o),
    ...frontendCacheBypassed(o),
    ...frontendUnaligned(o),
    ...unreachable(o),
    ...versionSkew(o),
    ...clockSkew(o),
    ...storeWithoutLimits(o),
    ...storeMemoryOverLimit(o),
    ...sidecarsNotUploading(o),
  ];
  return findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

function readLines(o: Observation): string[] {
  const lines = [
    `query ${o.query.url}: ${o.query.stores.length} StoreAPI endpoint(s)${o.query.version ? `, Thanos ${o.query.version}` : ""}`,
    ...o.components.map((c) =>
      c.error ? `${c.url}: not read (${c.error})` : `${c.url}: ${c.kind}${c.version ? ` ${c.version}` : ""}`,
    ),
  ];
  if (o.bucket) {
    lines.push(
      o.bucket.error
        ? `${o.bucket.name}: not read (${o.bucket.error})`
        : `${o.bucket.name}: ${o.bucket.blocks.length} block(s)`,
    );
  }
  return lines;
}

export async function runDoctor(http: HttpClient, opts: ObserveOptions): Promise<DoctorReport> {
  const started = Date.now();
  const o = await observe(http, opts);
  const findings = diagnose(o);
  const summary: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) summary[f.severity]++;
  return {
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    query: opts.query,
    read: readLines(o),
    findings,
    summary,
  };
}
