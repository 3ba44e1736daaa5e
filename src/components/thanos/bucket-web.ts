// Thanos bucket web: the bucket's blocks in a browser, for a person to open.
import { parseDuration } from "../../duration.ts";
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec, Opening } from "../types.ts";
import { START_STAGE } from "../types.ts";
import {
  HTTP_ONLY,
  HTTP_PORT,
  listen,
  type MgmtFacts,
  mgmtComponent,
  mgmtOpening,
  objstore,
  WORKLOAD,
} from "./common.ts";

const FACTS: MgmtFacts = {
  name: WORKLOAD.bucketWeb,
  container: "thanos-bucket-web",
  component: "bucket-web",
  sizing: { memory: 32, limit: 256, cpu: 10 },
  stateful: false,
  stage: START_STAGE.mgmtQuery,
};
const NAME = FACTS.name;

/** Half a duration, in whole seconds (at least one). */
function halfOf(duration: string): string {
  return `${Math.max(1, Math.floor(parseDuration(duration) / 2000))}s`;
}

export function bucketWeb(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, FACTS.container);
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
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: { ports: HTTP_ONLY, files: store.files },
    ports: { http: { nodePort: topology.observer.nodePorts.bucketWeb } },
  });
}

export function bucketWebOpenings(topology: Topology): Opening[] {
  return [mgmtOpening(topology, "bucket-web", "bucket web", topology.observer.nodePorts.bucketWeb)];
}
