// The setups the query benchmark compares, on the same addresses, each over its own bucket made from the same
// generated history: the guide's (its compactor with Thanos's defaults, no deduplication; thanos query alone over a
// store gateway with Thanos's defaults), a peer's tuned setup (kube-thanos's defaults: query-frontend → query →
// store gateway over the guide's bucket, which kube-thanos's compactor would make alike) and thanos-fleet's (its
// compactor, which deduplicates HA pairs offline; query-frontend → query → store gateway, each with the args its
// component spec gives it).
import { dirname, join } from "node:path";
import { HTTP_PORT } from "../../src/components/thanos/common.ts";
import type { ProcessPlan } from "../../src/runtimes/local/processes.ts";
import { stringify } from "../../src/yaml.ts";
import { type BenchFleet, observerProcess, storeOnlyEndpoints } from "../lib/fleet.ts";

export interface Configuration {
  name: string;
  /** Started in order, each ready before the next. */
  processes: ProcessPlan[];
  /** Base URL of the Prometheus query API a dashboard would use. */
  url: string;
  /** Base URL of thanos query itself. */
  queryUrl: string;
  /** The store gateway's log, where it names the resolution of the blocks it read (at debug level). */
  storeLog: string;
}

/** The store gateway names the resolution of each block set it reads only at debug level: the signal we read. */
function debugLog(p: ProcessPlan): ProcessPlan {
  return { ...p, args: p.args.map((a) => (a === "--log.level=info" ? "--log.level=debug" : a)) };
}

function withStoreOnlyEndpoints(fleet: BenchFleet, p: ProcessPlan, keepTls: boolean): ProcessPlan {
  const endpoints = storeOnlyEndpoints(fleet, keepTls);
  return { ...p, files: p.files.map((f) => (f.path === endpoints.path ? endpoints : f)) };
}

/** The planned args that say where a process listens and which bucket or endpoints it reads: wiring, not tuning. */
function wiring(p: ProcessPlan, names: string[]): string[] {
  return p.args.filter((a) => names.some((n) => a.startsWith(`--${n}=`)));
}

/**
 * The guide's compactor: `thanos compact --data-dir … --objstore.config-file … --wait`, everything else at Thanos's
 * defaults: no retention, downsampling on, no deduplication.
 */
export function guideCompactor(fleetCompactor: ProcessPlan): ProcessPlan {
  return {
    ...fleetCompactor,
    id: `${fleetCompactor.id} (guide)`,
    args: [
      "compact",
      "--wait",
      ...wiring(fleetCompactor, ["http-address", "data-dir", "objstore.config-file", "wait-interval"]),
    ],
  };
}

export function fleetConfiguration(fleet: BenchFleet): Configuration {
  const store = debugLog(observerProcess(fleet, "store"));
  const query = withStoreOnlyEndpoints(fleet, observerProcess(fleet, "query"), true);
  const frontend = observerProcess(fleet, "query-frontend");
  return {
    name: "thanos-fleet",
    processes: [store, query, frontend],
    url: `http://${frontend.ip}:${HTTP_PORT}`,
    queryUrl: `http://${query.ip}:${HTTP_PORT}`,
    storeLog: store.log,
  };
}

/**
 * The peer: kube-thanos (github.com/thanos-io/kube-thanos, commit 55d4a7c28b2b6c8310cee030c6b319868ec9bd62,
 * 2026-03-09; it has no release tag past v0.29.0) at its jsonnet defaults:
 * - jsonnet/kube-thanos/kube-thanos-query-frontend.libsonnet: `splitInterval: '24h'` (`--query-range.split-interval`
 *   and `--labels.split-interval`), `maxRetries: 5`, `--query-frontend.compress-responses`,
 *   `logQueriesLongerThan: '0'`; its results cache when one asks for IN-MEMORY is its `fifoCache`: `max_size: '0'`
 *   (no byte limit), `max_size_items: 2048`, `validity: '6h'` (its other choice, memcached as in examples/all, is a
 *   server the benchmark does not run);
 * - jsonnet/kube-thanos/kube-thanos-query.libsonnet: `autoDownsampling: true` (`--query.auto-downsampling`), the
 *   replica labels, Thanos's defaults otherwise (20 queries at once, 2 min timeout);
 * - jsonnet/kube-thanos/kube-thanos-store-default-params.libsonnet: `indexCache: {}` and `bucketCache: {}`, so
 *   Thanos's default in-memory index cache of 250 MB and no caching bucket, no limits (`seriesTouched`,
 *   `seriesSample`, `downloadedBytes` 0), `ignoreDeletionMarksDelay: '24h'`;
 * - jsonnet/kube-thanos/kube-thanos-compact-default-params.libsonnet: `deduplicationReplicaLabels: []`, downsampling
 *   on, retention `0d` (forever): over this history the same bucket as the guide's compactor makes, so the peer reads
 *   the guide's bucket (`fleet` is planned on it).
 * Plaintext, like the guide's (kube-thanos configures no TLS between them).
 */
export const KUBE_THANOS_COMMIT = "55d4a7c28b2b6c8310cee030c6b319868ec9bd62";

/** A setup's own store gateway beside the fleet's: the fleet's addresses and bucket, its own data dir and log. */
function ownStore(fleetStore: ProcessPlan, setup: string, extra: string[]): ProcessPlan {
  const storeData = join(dirname(fleetStore.log), `${setup}-store`);
  return {
    ...fleetStore,
    id: `${fleetStore.id} (${setup})`,
    args: [
      "store",
      ...wiring(fleetStore, ["grpc-address", "http-address", "objstore.config-file"]),
      `--data-dir=${storeData}`,
      ...extra,
      "--log.level=debug",
    ],
    dirs: [...fleetStore.dirs, storeData],
    log: join(dirname(fleetStore.log), `${setup}-store.log`),
  };
}

/** A setup's own query: the fleet's addresses, replica labels and endpoints, nothing else of the fleet's tuning. */
function ownQuery(fleetQuery: ProcessPlan, setup: string, extra: string[]): ProcessPlan {
  return {
    ...fleetQuery,
    id: `${fleetQuery.id} (${setup})`,
    args: [
      "query",
      ...wiring(fleetQuery, [
        "grpc-address",
        "http-address",
        "query.replica-label",
        "endpoint.sd-config-file",
      ]),
      ...extra,
    ],
    log: join(dirname(fleetQuery.log), `${setup}-query.log`),
  };
}

export function peerConfiguration(fleet: BenchFleet): Configuration {
  const fleetStore = observerProcess(fleet, "store");
  const fleetQuery = withStoreOnlyEndpoints(fleet, observerProcess(fleet, "query"), false);
  const fleetFrontend = observerProcess(fleet, "query-frontend");
  const store = ownStore(fleetStore, "peer", ["--ignore-deletion-marks-delay=24h"]);
  const query = ownQuery(fleetQuery, "peer", ["--query.auto-downsampling"]);
  const cache = stringify({
    type: "IN-MEMORY",
    config: { max_size: "0", max_size_items: 2048, validity: "6h" },
  });
  const frontend: ProcessPlan = {
    ...fleetFrontend,
    id: `${fleetFrontend.id} (peer)`,
    args: [
      "query-frontend",
      "--query-frontend.compress-responses",
      ...wiring(fleetFrontend, ["http-address"]),
      // kube-thanos's downstream is query's Service; here query itself, as the guide's is asked (the fleet's runs
      // through its load balancer, which a restarted query rejoins only after its health checks: a first ask can
      // meet a closed connection there).
      `--query-frontend.downstream-url=http://${query.ip}:${HTTP_PORT}`,
      "--query-range.split-interval=24h",
      "--labels.split-interval=24h",
      "--query-range.max-retries-per-request=5",
      "--labels.max-retries-per-request=5",
      "--query-frontend.log-queries-longer-than=0",
      `--query-range.response-cache-config=${cache}`,
    ],
    files: [],
    log: join(dirname(fleetFrontend.log), "peer-query-frontend.log"),
  };
  return {
    name: "peer",
    processes: [store, query, frontend],
    url: `http://${frontend.ip}:${HTTP_PORT}`,
    queryUrl: `http://${query.ip}:${HTTP_PORT}`,
    storeLog: store.log,
  };
}

/**
 * The guide's commands: `thanos store --data-dir … --objstore.config-file …` and `thanos query` with its store
 * endpoint and replica labels, everything else at Thanos's defaults (the store's default in-memory index cache of
 * 250 MB included), no query-frontend, no downsampling asked for.
 */
export function guideConfiguration(fleet: BenchFleet): Configuration {
  const fleetStore = observerProcess(fleet, "store");
  const fleetQuery = withStoreOnlyEndpoints(fleet, observerProcess(fleet, "query"), false);
  const store = ownStore(fleetStore, "guide", []);
  const query = ownQuery(fleetQuery, "guide", []);
  return {
    name: "guide",
    processes: [store, query],
    url: `http://${query.ip}:${HTTP_PORT}`,
    queryUrl: `http://${query.ip}:${HTTP_PORT}`,
    storeLog: store.log,
  };
}
