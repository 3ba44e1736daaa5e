// The store gateway: serves the bucket's blocks over the StoreAPI, behind one in-cluster Service.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import { type Profile, scale } from "../resources.ts";
import type { ComponentSpec, StoreApiServer } from "../types.ts";
import { podName, START_STAGE } from "../types.ts";
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

/**
 * The store gateway's limits. Series calls in flight: 8 in the small profile (Thanos's default is 20): the default
 * 2 query replicas × queryMaxConcurrent (2) queries each, and as many again for the ruler's rules and what asks query
 * directly; more wait at the store's gate, within the query's timeout.
 * One Series call may touch at most 100,000 series and 36,000,000 samples (Thanos: no limit), so that 8 of them fit
 * in half the memory its GOMEMLIMIT allows (1024 MiB × 0.8 / 2 = 410 MiB, 51 MiB each): about 500 bytes of labels and
 * postings per series (100,000 → 48 MiB), about 170 bytes per chunk of up to 120 samples (36,000,000 samples =
 * 300,000 chunks → 49 MiB). A bigger profile has that much more memory per call in flight and as many more calls:
 * the per-call limits stay, the concurrency scales (32 medium, 128 large). A call over a limit fails with an error
 * naming it, which query reports (as a warning with partial response on), instead of growing the store until it is
 * killed.
 */
export function storeLimits(profile: Profile): {
  seriesMaxConcurrency: number;
  requestSeries: number;
  requestSamples: number;
} {
  return { seriesMaxConcurrency: 8 * scale(profile), requestSeries: 100_000, requestSamples: 36_000_000 };
}

/** Its only replica's pod name. */
export const STORE_GATEWAY_POD = podName(NAME, 0);

export function storeGateway(topology: Topology, ctx: SpecContext): ComponentSpec {
  const store = objstore(ctx, NAME, FACTS.container);
  const tls = grpcServerTls(ctx, NAME, FACTS.container);
  const limits = storeLimits(topology.fleet.profile);
  const args = [
    "store",
    ...listenArgs(ctx),
    `--data-dir=${ctx.dataDir(NAME, FACTS.container)}`,
    store.arg,
    `--sync-block-duration=${ctx.bucketSyncInterval}`,
    `--store.grpc.series-max-concurrency=${limits.seriesMaxConcurrency}`,
    `--store.limits.request-series=${limits.requestSeries}`,
    `--store.limits.request-samples=${limits.requestSamples}`,
    ...tls.args,
  ];
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: { files: [...store.files, ...tls.files], dataDir: ctx.dataDir(NAME, FACTS.container) },
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
