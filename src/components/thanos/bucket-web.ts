// Thanos bucket web: the bucket's blocks in a browser, for a person to open.
import { parseDuration } from "../../duration.ts";
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec, Opening } from "../types.ts";
import { START_STAGE } from "../types.ts";
import { HTTP_ONLY, HTTP_PORT, listen, mgmtService, objstore, thanosContainer, WORKLOAD } from "./common.ts";

const NAME = WORKLOAD.bucketWeb;

/** Half a duration, in whole seconds (at least one). */
function halfOf(duration: string): string {
  return `${Math.max(1, Math.floor(parseDuration(duration) / 2000))}s`;
}

export function bucketWeb(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, "thanos-bucket-web");
  const args = [
    "tools",
    "bucket",
    "web",
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    store.arg,
    `--refresh=${ctx.bucketSyncInterval}`,
    // Thanos wants the refresh at least twice the download timeout (default 5m), which a short refresh is not.
    `--timeout=${halfOf(ctx.bucketSyncInterval)}`,
    "--label=cluster",
  ];
  return {
    pods: [
      {
        cluster: topology.observer.name,
        name: NAME,
        replicas: 1,
        stateful: false,
        stage: START_STAGE.mgmtQuery,
        containers: [
          thanosContainer(
            topology,
            "thanos-bucket-web",
            "bucket-web",
            { memory: 32, limit: 256, cpu: 10 },
            args,
            {
              ports: HTTP_ONLY,
              files: [store.file],
            },
          ),
        ],
      },
    ],
    services: [mgmtService(topology, NAME, { http: { nodePort: topology.observer.nodePorts.bucketWeb } })],
  };
}

export function bucketWebOpenings(topology: Topology): Opening[] {
  const mgmt = topology.observer;
  return [
    {
      cluster: mgmt.name,
      name: "bucket-web",
      title: "bucket web",
      nodePort: mgmt.nodePorts.bucketWeb,
      runtimes: ["kubernetes", "local"],
    },
  ];
}
