// The compactor: compacts, downsamples and applies retention to the bucket. Exactly one per bucket: two would
// compact the same blocks.
import { RECEIVE_REPLICA_LABEL, usesReceive } from "../../topology/semantics.ts";
import type { Topology } from "../../topology/topology.ts";
import type { Addresses, SpecContext } from "../context.ts";
import type { ComponentSpec } from "../types.ts";
import { podName, START_STAGE } from "../types.ts";
import { HTTP_ONLY, HTTP_PORT, listen, type MgmtFacts, mgmtComponent, objstore, WORKLOAD } from "./common.ts";

const FACTS: MgmtFacts = {
  name: WORKLOAD.compact,
  container: "thanos-compact",
  component: "compact",
  sizing: { memory: 128, limit: 1024, cpu: 50 },
  stateful: true,
  stage: START_STAGE.mgmtQuery,
};
const NAME = FACTS.name;

/** Its only replica's pod name. */
export const COMPACTOR_POD = podName(NAME, 0);

/** The label that tells a workload's Prometheus HA replicas apart, which offline deduplication ignores. */
export const DEDUP_REPLICA_LABEL = "prometheus_replica";

// Offline deduplication of each workload's HA pair: with the replica label ignored, both replicas' blocks form one
// stream, so the compactor compacts the overlapping blocks vertically into one (setting a replica label turns vertical
// compaction on; the flag that does so alone is hidden). `penalty` is the merge Thanos documents for "the same
// application scraped from two different Prometheis" (docs/components/compact.md v0.42.4, "Vertical Compaction Use
// Cases"); the default, one-to-one, only drops samples with equal timestamps and values, which two scrapers never
// write. The page's "Vertical Compaction Risks" apply: it cannot be undone (README, "Offline deduplication").
export const DEDUPLICATION_ARGS = [
  `--deduplication.replica-label=${DEDUP_REPLICA_LABEL}`,
  "--deduplication.func=penalty",
];

export function compactor(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, FACTS.container);
  const { retention } = topology.fleet;
  const args = [
    "compact",
    "--wait",
    `--wait-interval=${ctx.bucketSyncInterval}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(NAME, FACTS.container)}`,
    store.arg,
    `--retention.resolution-raw=${retention.raw}`,
    `--retention.resolution-5m=${retention.fiveMinutes}`,
    `--retention.resolution-1h=${retention.oneHour}`,
    "--compact.concurrency=1",
    ...DEDUPLICATION_ARGS,
    ...receiveDedup(topology),
  ];
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: { ports: HTTP_ONLY, files: store.files, dataDir: ctx.dataDir(NAME, FACTS.container) },
    // On a NodePort: no Prometheus runs in mgmt, so the workload clusters' Prometheus scrape it (compactorScrapeJob).
    ports: { http: { nodePort: topology.observer.nodePorts.compactor } },
  });
}

/**
 * With receive, each ingester uploads its own copy of every block (replication factor copies, one per
 * receive_replica). Thanos's compactor documentation (docs/components/compact.md, "Vertical Compaction Use Cases")
 * names this case: receive replication copies samples exactly, and `--deduplication.replica-label` names the label
 * that tells the copies apart. The copies become one block instead of three streams of the same samples. The one
 * merge function the compactor takes is the HA pairs' `penalty` (DEDUPLICATION_ARGS): on exact copies it keeps the
 * same samples the default one-to-one merge keeps. Nothing without receive.
 */
function receiveDedup(topology: Topology): string[] {
  return usesReceive(topology.fleet) ? [`--deduplication.replica-label=${RECEIVE_REPLICA_LABEL}`] : [];
}

export const COMPACTOR_JOB = "thanos-compact";

/**
 * The compactor's metrics in the global view: each workload cluster's Prometheus scrapes it through mgmt's NodePort,
 * so `thanos_compact_halted` reaches the ruler (a halted compactor stops silently, on overlapping blocks).
 */
export function compactorScrapeJob(
  topology: Topology,
  addresses: Addresses,
  tls: Record<string, unknown> = {},
): Record<string, unknown> {
  const mgmt = topology.observer;
  return {
    job_name: COMPACTOR_JOB,
    ...tls,
    static_configs: [{ targets: [addresses.exposed(mgmt.name, mgmt.nodePorts.compactor)] }],
  };
}
