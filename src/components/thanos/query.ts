// Thanos query: fans out to every StoreAPI server of the fleet and deduplicates the Prometheus replicas.
import { RECEIVE_REPLICA_LABEL, REPLICA_LABELS, usesReceive } from "../../topology/semantics.ts";
import type { Topology } from "../../topology/topology.ts";
import { stringify } from "../../yaml.ts";
import type { SpecContext } from "../context.ts";
import { type Profile, scale } from "../resources.ts";
import type { ComponentSpec, ConfigFile, Opening, StoreApiServer } from "../types.ts";
import { podName, START_STAGE } from "../types.ts";
import { listenArgs, type MgmtFacts, mgmtComponent, mgmtOpening, TLS_FILES, WORKLOAD } from "./common.ts";

export const ENDPOINTS_FILE = "endpoints.yaml";
const FACTS: MgmtFacts = {
  name: WORKLOAD.query,
  container: "thanos-query",
  component: "query",
  sizing: { memory: 64, limit: 512, cpu: 50 },
  replicas: (topology) => topology.observer.queryReplicas,
  stateful: false,
  stage: START_STAGE.mgmtQuery,
};
const NAME = FACTS.name;

/**
 * How many queries one query replica evaluates at once; query-frontend takes in only a few more (its rate limit,
 * queryFrontendRateLimit) and refuses the rest with 429, and what it takes in beyond these waits at query's gate.
 * Thanos's default of 20 let 200 heavy queries grow each replica from about 100 MB to 1.37 GB. Measured with
 * `npm run bench -- overload` (200 heavy queries at once, small profile, 2 replicas; 2-core machine, 2026-12-07, load
 * average 9-16 from other work), peak RSS of the query path: 4 per replica 1.34 GiB (store gateway 531 MiB, the
 * replicas 402 and 371, query-frontend 72; 10 answered), 2 per replica 888, 1010 and 878 MiB in three runs (store
 * gateway 318-449 MiB, each replica 245-270, query-frontend 72; 8-15 answered).
 * The memory goes with the queries evaluated at once, in query and in the Series calls they make to the store
 * gateway, and 2 cores finish no more with 8 in flight than with 4. A bigger profile has proportionally more memory
 * and CPU: 8 (medium), 32 (large).
 */
export function queryMaxConcurrent(profile: Profile): number {
  return 2 * scale(profile);
}

/**
 * How long one query may be evaluated before query gives up, instead of Thanos's 2 min: 503 "query timed out", or
 * 422 "context deadline exceeded" when the deadline passes while it still reads series from the stores. So
 * a query 40 times slower than the heavy query the overload benchmark sends (0.35 s alone) is not answered but
 * refused, and its memory and CPU go to the next one. The same in every profile: it is what a person waits, not a
 * capacity.
 */
export const QUERY_TIMEOUT_S = 15;

const QUERY_CLIENT_FILES = { cert: "grpc-client.crt", key: "grpc-client.key" } as const;

/** Pod names of the query replicas, as verify asks each of them for its stores. */
export function queryPodNames(topology: Topology): string[] {
  return Array.from({ length: topology.observer.queryReplicas }, (_, i) => podName(NAME, i));
}

/**
 * The query's endpoint config file: `--endpoint` is deprecated in v0.42 and `--store` is gone; the file is
 * re-read, so new node addresses (Docker gives new IPs after a restart) need no restart of query.
 */
export function endpointsConfig(stores: StoreApiServer[], ctx: SpecContext): string {
  const endpoints = stores.map((s) => ({ address: s.address(ctx.addresses) }));
  const tls = ctx.grpcTls;
  if (!tls) return stringify({ endpoints });
  const dir = ctx.configDir(NAME, FACTS.container);
  return stringify({
    // Every endpoint is verified against the fleet CA: under one name whatever address query dials, or (no name)
    // under the address it dials, which each server's own certificate names.
    default_client_config: {
      tls_config: {
        enabled: true,
        ca_file: `${dir}/${TLS_FILES.ca}`,
        cert_file: `${dir}/${QUERY_CLIENT_FILES.cert}`,
        key_file: `${dir}/${QUERY_CLIENT_FILES.key}`,
      },
      ...(tls.serverName ? { server_name: tls.serverName } : {}),
    },
    endpoints,
  });
}

/** The files query's endpoint config refers to: the CA and query's own client certificate. */
function queryClientTlsFiles(ctx: SpecContext): ConfigFile[] {
  const tls = ctx.grpcTls;
  if (!tls) return [];
  return [
    { name: TLS_FILES.ca, content: tls.ca },
    { name: QUERY_CLIENT_FILES.cert, content: tls.clientCert },
    { name: QUERY_CLIENT_FILES.key, content: tls.clientKey, secret: true },
  ];
}

/** The labels query deduplicates on: each HA pair's, each ruler's, and each receive ingester's when receive is used. */
export function replicaLabels(topology: Topology): string[] {
  return [...REPLICA_LABELS, ...(usesReceive(topology.fleet) ? [RECEIVE_REPLICA_LABEL] : [])];
}

/** Query, given every StoreAPI server of the fleet (storeApiServers). */
export function query(topology: Topology, ctx: SpecContext, stores: StoreApiServer[]): ComponentSpec {
  const mgmt = topology.observer;
  const args = [
    "query",
    ...listenArgs(ctx),
    ...replicaLabels(topology).map((l) => `--query.replica-label=${l}`),
    "--query.auto-downsampling",
    `--endpoint.sd-config-file=${ctx.configDir(NAME, FACTS.container)}/${ENDPOINTS_FILE}`,
    "--endpoint.sd-config-reload-interval=30s",
    `--query.max-concurrent=${queryMaxConcurrent(topology.fleet.profile)}`,
    `--query.timeout=${QUERY_TIMEOUT_S}s`,
  ];
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: {
      files: [{ name: ENDPOINTS_FILE, content: endpointsConfig(stores, ctx) }, ...queryClientTlsFiles(ctx)],
    },
    ports: { grpc: {}, http: { nodePort: mgmt.nodePorts.query } },
  });
}

export function queryOpenings(topology: Topology): Opening[] {
  return [mgmtOpening(topology, "query", "query UI", topology.observer.nodePorts.query)];
}
