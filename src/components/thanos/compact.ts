// The compactor: compacts, downsamples and applies retention to the bucket. Exactly one per bucket: two would
// compact the same blocks.
import type { Topology } from "../../topology/topology.ts";
import type { Addresses, SpecContext } from "../context.ts";
import type { ComponentSpec } from "../types.ts";
import { START_STAGE } from "../types.ts";
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
  ];
  return mgmtComponent(topology, FACTS, {
    args,
    container: { ports: HTTP_ONLY, files: store.files, dataDir: ctx.dataDir(NAME, FACTS.container) },
    // On a NodePort: no Prometheus runs in mgmt, so the workload clusters' Prometheus scrape it (compactorScrapeJob).
    ports: { http: { nodePort: topology.observer.nodePorts.compactor } },
  });
}

export const COMPACTOR_JOB = "thanos-compact";

/**
 * The compactor's metrics in the global view: each workload cluster's Prometheus scrapes it through mgmt's NodePort,
 * so `thanos_compact_halted` reaches the ruler (a halted compactor stops silently, on overlapping blocks).
 */
export function compactorScrapeJob(topology: Topology, addresses: Addresses): Record<string, unknown> {
  const mgmt = topology.observer;
  return {
    job_name: COMPACTOR_JOB,
    static_configs: [{ targets: [addresses.exposed(mgmt.name, mgmt.nodePorts.compactor)] }],
  };
}
