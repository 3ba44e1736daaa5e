// The store gateway: serves the bucket's blocks over the StoreAPI, behind one in-cluster Service.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec, StoreApiServer } from "../types.ts";
import { START_STAGE } from "../types.ts";
import {
  GRPC_PORT,
  grpcServerTls,
  listenArgs,
  type MgmtFacts,
  mgmtComponent,
  objstore,
  WORKLOAD,
} from "./common.ts";

const FACTS: MgmtFacts = {
  name: WORKLOAD.store,
  container: "thanos-store",
  component: "store",
  sizing: { memory: 128, limit: 1024, cpu: 50 },
  stateful: true,
  // Query and the ruler dial it.
  stage: START_STAGE.mgmtBackends,
};
const NAME = FACTS.name;

/** Its only replica's pod name. */
export const STORE_GATEWAY_POD = `${NAME}-0`;

export function storeGateway(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, FACTS.container);
  const tls = grpcServerTls(ctx, NAME, FACTS.container);
  const args = [
    "store",
    ...listenArgs(ctx),
    `--data-dir=${ctx.dataDir(NAME, FACTS.container)}`,
    store.arg,
    `--sync-block-duration=${ctx.bucketSyncInterval}`,
    ...tls.args,
  ];
  return mgmtComponent(topology, FACTS, {
    args,
    container: { files: [store.file, ...tls.files], dataDir: ctx.dataDir(NAME, FACTS.container) },
    ports: { grpc: {}, http: {} },
    storeLabels: () => ({}),
  });
}

/** Query dials the store gateway through its Service. */
export function storeGatewayStoreApis(topology: Topology): StoreApiServer[] {
  const mgmt = topology.observer.name;
  return [
    {
      type: "store",
      component: "store",
      cluster: mgmt,
      pod: STORE_GATEWAY_POD,
      container: FACTS.container,
      title: "store gateway",
      unreachable: "the store gateway is down or its Service is unreachable from query",
      address: (addresses) => addresses.service(mgmt, NAME, GRPC_PORT),
    },
  ];
}
