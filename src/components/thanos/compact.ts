// The compactor: compacts, downsamples and applies retention to the bucket. Exactly one per bucket: two would
// compact the same blocks.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
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
    container: { ports: HTTP_ONLY, files: [store.file], dataDir: ctx.dataDir(NAME, FACTS.container) },
    ports: { http: {} },
  });
}
