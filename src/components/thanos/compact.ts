// The compactor: compacts, downsamples and applies retention to the bucket. Exactly one per bucket: two would
// compact the same blocks.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec } from "../types.ts";
import { START_STAGE } from "../types.ts";
import { HTTP_ONLY, HTTP_PORT, listen, mgmtService, objstore, thanosContainer, WORKLOAD } from "./common.ts";

const NAME = WORKLOAD.compact;

export function compactor(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, "thanos-compact");
  const { retention } = topology.fleet;
  const args = [
    "compact",
    "--wait",
    `--wait-interval=${ctx.bucketSyncInterval}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(NAME, "thanos-compact")}`,
    store.arg,
    `--retention.resolution-raw=${retention.raw}`,
    `--retention.resolution-5m=${retention.fiveMinutes}`,
    `--retention.resolution-1h=${retention.oneHour}`,
    "--compact.concurrency=1",
  ];
  return {
    pods: [
      {
        cluster: topology.observer.name,
        name: NAME,
        replicas: 1,
        stateful: true,
        stage: START_STAGE.mgmtQuery,
        containers: [
          thanosContainer(
            topology,
            "thanos-compact",
            "compact",
            { memory: 128, limit: 1024, cpu: 50 },
            args,
            {
              ports: HTTP_ONLY,
              files: [store.file],
              dataDir: ctx.dataDir(NAME, "thanos-compact"),
            },
          ),
        ],
      },
    ],
    services: [mgmtService(topology, NAME, { http: {} })],
  };
}
