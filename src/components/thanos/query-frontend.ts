// The query-frontend: splits and caches range queries in front of query; what Grafana and a person query.

import type { Topology } from "../../topology/topology.ts";
import { stringify } from "../../yaml.ts";
import type { Addresses, SpecContext } from "../context.ts";
import type { ComponentSpec, Opening } from "../types.ts";
import { START_STAGE } from "../types.ts";
import { webClient } from "../web.ts";
import {
  HTTP_ONLY,
  HTTP_PORT,
  listen,
  type MgmtFacts,
  mgmtComponent,
  mgmtOpening,
  WORKLOAD,
} from "./common.ts";

export const QFE_CACHE_FILE = "query-range-cache.yaml";
export const QFE_DOWNSTREAM_FILE = "downstream-tripper.yaml";

/**
 * How long query-frontend waits for query to start answering one request: queued at query's gate
 * (queryMaxConcurrent) plus evaluated (at most QUERY_TIMEOUT_S = 15 s). Thanos has no queue limit of its own, so this
 * is what bounds the queue: a request still waiting after 20 s is refused, and query, seeing it go, drops it from
 * its gate. 20 s leaves 10 s of the 30 s a request may take end to end for the client's side and a loaded machine.
 * The same in every profile: it is what a person waits, not a capacity.
 */
export const QUERY_FRONTEND_WAIT_S = 20;
const FACTS: MgmtFacts = {
  name: WORKLOAD.queryFrontend,
  container: "thanos-query-frontend",
  component: "query-frontend",
  sizing: { memory: 64, limit: 256, cpu: 25 },
  stateful: false,
  // In front of query.
  stage: START_STAGE.mgmtFrontend,
};
const NAME = FACTS.name;

/** mgmt's query-frontend as the other clusters (Grafana) and verify reach it: mgmt's node address and NodePort. */
export function queryFrontendAddress(topology: Topology, addresses: Addresses): string {
  const mgmt = topology.observer;
  return addresses.exposed(mgmt.name, mgmt.nodePorts.queryFrontend);
}

export function queryFrontend(topology: Topology, ctx: SpecContext): ComponentSpec {
  const mgmt = topology.observer;
  const downstream = ctx.addresses.service(mgmt.name, WORKLOAD.query, HTTP_PORT);
  const dir = ctx.configDir(NAME, FACTS.container);
  // Query is exposed: with `tls.http` query-frontend reaches it over HTTPS, with the fleet's client certificate.
  const client = webClient(ctx, dir);
  const cache = stringify({ type: "IN-MEMORY", config: { max_size: "128MB", validity: "10m" } });
  const tripper = stringify({
    response_header_timeout: `${QUERY_FRONTEND_WAIT_S}s`,
    // Keeps connections to query for reuse; Thanos's flag text recommends at least 100 for a nearby downstream.
    max_idle_conns_per_host: 100,
    ...(client.tlsConfig ? { tls_config: client.tlsConfig } : {}),
  });
  const args = [
    "query-frontend",
    `--http-address=${listen(ctx, HTTP_PORT)}`,
    `--query-frontend.downstream-url=${client.scheme}://${downstream}`,
    // Ranges above a day go out as 7 equal parallel requests, ranges above 15 days as 15-day requests: measured with
    // `npm run bench -- query` (2 cores, 30 d × 1,000 series × 4 replicas), against splitting into days the 30 d
    // dashboard cold went from 8.1 s to 4.2 s (every day split looked every series up again) and the 7 d one
    // stayed within noise (4.1 s, 4.4 s); two halves gave 30 d 4.0 s but 7 d 5.2 s.
    "--query-range.split-interval=0",
    "--query-range.min-split-interval=24h",
    "--query-range.max-split-interval=360h",
    "--query-range.horizontal-shards=7",
    `--query-range.response-cache-config-file=${dir}/${QFE_CACHE_FILE}`,
    `--query-frontend.downstream-tripper-config-file=${dir}/${QFE_DOWNSTREAM_FILE}`,
    // One try, no retries (Thanos retries a 5xx up to 5 times): under overload a retry is more of the load that
    // failed, and a refused request should reach its client at once.
    "--query-range.max-retries-per-request=1",
    "--query.max-retries-per-request=1",
    "--labels.max-retries-per-request=1",
    "--query-frontend.log-queries-longer-than=10s",
  ];
  return mgmtComponent(topology, ctx, FACTS, {
    args,
    container: {
      ports: HTTP_ONLY,
      files: [
        { name: QFE_CACHE_FILE, content: cache },
        { name: QFE_DOWNSTREAM_FILE, content: tripper },
        ...client.files,
      ],
    },
    ports: { http: { nodePort: mgmt.nodePorts.queryFrontend } },
  });
}

export function queryFrontendOpenings(topology: Topology): Opening[] {
  return [
    mgmtOpening(topology, "query-frontend", "query-frontend", topology.observer.nodePorts.queryFrontend),
  ];
}
