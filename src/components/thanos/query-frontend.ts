// The query-frontend: splits and caches range queries in front of query; what Grafana and a person query.

import type { Topology } from "../../topology/topology.ts";
import { stringify } from "../../yaml.ts";
import type { Addresses, SpecContext } from "../context.ts";
import type { ComponentSpec, Opening } from "../types.ts";
import { START_STAGE } from "../types.ts";
import { type RateLimit, webClient } from "../web.ts";
import {
  HTTP_ONLY,
  HTTP_PORT,
  listen,
  type MgmtFacts,
  mgmtComponent,
  mgmtOpening,
  WORKLOAD,
} from "./common.ts";
import { queryMaxConcurrent } from "./query.ts";

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

/**
 * query-frontend's rate limit, the `rate_limit` of its --http.config (exporter-toolkit's token bucket; Thanos v0.42
 * has no queue limit of its own): it takes in at once 4 times the queries the query replicas evaluate together, and
 * one more per evaluation slot each second; a request beyond that is refused at once with 429 Too Many Requests
 * instead of waiting at query's gate until query-frontend gives up on it (QUERY_FRONTEND_WAIT_S) with a 500.
 * Measured with `npm run bench -- overload` (200 heavy queries at once, small profile: 2 replicas × 2 = 4 evaluating,
 * burst 16, one every 250 ms; 2-core machine, 2026-12-07, load average 12-15 from other work; three runs): 15, 8 and
 * 15 answered within 21 s, 185-186 refused with 429 within 2.2 s, 0, 6 and 0 refused after query-frontend's wait. Without it (the same 4 evaluating, load average
 * 12-16): all 200 taken in, 12 answered, 188 refused with a 500 after 21 s. With burst 16 before query's concurrency
 * was halved (8 evaluating): 10 answered, 6 refused after the wait. The query path's memory does not move with it
 * (888 MiB with, 889 without: it goes with the queries evaluated, see queryMaxConcurrent). A rate, not a count of requests in flight (exporter-toolkit has no other): a dashboard opening
 * with 16 panels is taken in whole, its light queries (well under a second each) at one a second per slot are never
 * refused, a steady stream of heavy ones beyond that is. The same arithmetic in every profile (medium 64 and one
 * every 63 ms, large 256 and one every 16 ms). It applies to every path, the health checks too: see the probes below.
 */
/**
 * The smallest burst: a large dashboard (Grafana sends every panel's query at once when it opens) and `verify`'s
 * probes beside it are taken in whole in every profile. Memory does not move with the burst (it goes with the queries
 * evaluated), only how many wait at query's gate instead of being refused at once.
 */
const DASHBOARD_BURST = 64;

export function queryFrontendRateLimit(topology: Topology): RateLimit {
  const evaluating = queryMaxConcurrent(topology.fleet.profile) * topology.observer.queryReplicas;
  return {
    interval: `${Math.round(1000 / evaluating)}ms`,
    burst: Math.max(DASHBOARD_BURST, 4 * evaluating),
  };
}

/**
 * How query-frontend splits a long range: the most parts it sends query at once (`max-query-parallelism`, Thanos's
 * default 14) is what the query replicas evaluate at once (queryMaxConcurrent × replicas: 4 in the small profile),
 * and a range between 1 and 15 days goes out in as many equal parts, at most 7 (a week in days). A part beyond what
 * query evaluates at once waits at its gate, within query-frontend's 20 s wait (QUERY_FRONTEND_WAIT_S), behind its
 * own siblings, and each part looks every series up again and fetches its chunks again from the bucket (on a cold
 * store gateway, S3 requests over HTTPS): on two cores more parts cost more than they gain. Measured on the 7 d
 * dashboard cold (3 panels, each on a fresh start; 30 d × 1,000 series × 4 replicas; 2-core machine shared with other
 * work, load average 10-19, 2026-12-07), five rounds of the variants side by side: 7 parts (before) 7.1-21.6 s,
 * median 10.4 s; 4 parts at most 4 at once 5.2-15.9 s, median 8.6 s, faster in every round (0.49-0.90×, median
 * 0.74×); 2 parts 2.7-10.8 s, faster in 3 of 4 rounds and slower in one (1.5×); not split 6.2 and 17.3 s. A range of
 * a day or less is not split by this (min-split-interval: at most its part before midnight and its part after).
 */
export function queryFrontendSplit(topology: Topology): { parallelism: number; shards: number } {
  const parallelism = queryMaxConcurrent(topology.fleet.profile) * topology.observer.queryReplicas;
  return { parallelism, shards: Math.min(7, parallelism) };
}

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
  const split = queryFrontendSplit(topology);
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
    // Ranges above a day go out in equal parallel parts (queryFrontendSplit), ranges of 30 days and more as 15-day
    // parts: measured with `npm run bench -- query` (2 cores, 30 d × 1,000 series × 4 replicas), against splitting
    // into days the 30 d dashboard cold went from 8.1 s to 4.2 s (every day split looked every series up again).
    "--query-range.split-interval=0",
    "--query-range.min-split-interval=24h",
    "--query-range.max-split-interval=360h",
    `--query-range.horizontal-shards=${split.shards}`,
    `--query-range.max-query-parallelism=${split.parallelism}`,
    `--query-range.response-cache-config-file=${dir}/${QFE_CACHE_FILE}`,
    `--query-frontend.downstream-tripper-config-file=${dir}/${QFE_DOWNSTREAM_FILE}`,
    // One try, no retries (Thanos retries a 5xx up to 5 times): under overload a retry is more of the load that
    // failed, and a refused request should reach its client at once.
    "--query-range.max-retries-per-request=1",
    "--query.max-retries-per-request=1",
    "--labels.max-retries-per-request=1",
    "--query-frontend.log-queries-longer-than=10s",
    // Gzip for clients that ask for it (Grafana, thanos-fleet): its port leaves mgmt, and a week of a topk panel is
    // megabytes of JSON. From the results cache it answers as fast as the peer's, which gzips too: `npm run bench --
    // query --runs 3` (2026-12-07, 2 cores, quiet), peer ÷ fleet warm 1.0× / 0.9× / 1.1× at 1 / 7 / 30 d.
    "--query-frontend.compress-responses",
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
      // The rate limit answers every path, /-/ready and /-/healthy too, with 429 once its tokens are spent: a probe
      // that took that for a failure would take the only query-frontend out of its Service (readiness; the load then
      // meets "connection refused" instead of a 429) or restart it (liveness). It is probed by TCP connect instead.
      readiness: { port: "http" },
      liveness: { port: "http" },
    },
    ports: { http: { nodePort: mgmt.nodePorts.queryFrontend } },
    web: { rate_limit: queryFrontendRateLimit(topology) },
  });
}

export function queryFrontendOpenings(topology: Topology): Opening[] {
  return [
    mgmtOpening(topology, "query-frontend", "query-frontend", topology.observer.nodePorts.queryFrontend),
  ];
}
