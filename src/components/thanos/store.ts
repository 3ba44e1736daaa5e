// The store gateway: serves the bucket's blocks over the StoreAPI, behind one in-cluster Service.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import type { ComponentSpec, StoreApiServer } from "../types.ts";
import { START_STAGE } from "../types.ts";
import {
  GRPC_PORT,
  grpcServerTls,
  HTTP_PORT,
  listen,
  mgmtService,
  objstore,
  thanosContainer,
  WORKLOAD,
} from "./common.ts";

const NAME = WORKLOAD.store;

/** Its only replica's pod name. */
export const STORE_GATEWAY_POD = `${NAME}-0`;

export function storeGateway(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, "thanos-store");
  const tls = grpcServerTls(ctx, NAME, "thanos-store");
  const args = [
    "store",
    `--grpc-address=${listen(ctx, GRPC_PORT)}`,
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--data-dir=${ctx.dataDir(NAME, "thanos-store")}`,
    store.arg,
    `--sync-block-duration=${ctx.bucketSyncInterval}`,
    ...tls.args,
  ];
  return {
    pods: [
      {
        cluster: topology.observer.name,
        name: NAME,
        replicas: 1,
        stateful: true,
        stage: START_STAGE.mgmtBackends,
        containers: [
          thanosContainer(topology, "thanos-store", "store", { memory: 128, limit: 1024, cpu: 50 }, args, {
            files: [store.file, ...tls.files],
            dataDir: ctx.dataDir(NAME, "thanos-store"),
          }),
        ],
        storeLabels: () => ({}),
      },
    ],
    services: [mgmtService(topology, NAME, { grpc: {}, http: {} })],
  };
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
      address: (addresses) => addresses.service(mgmt, NAME, GRPC_PORT),
    },
  ];
}
