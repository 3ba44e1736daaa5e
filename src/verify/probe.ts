// What checks read from the fleet, fetched once per verify and shared: checks ask, the probe remembers.
import { setTimeout as sleep } from "node:timers/promises";
import type { FleetEndpoints, Target } from "../endpoints.ts";
import { type HttpClient, HttpError, join } from "../net/http.ts";
import { S3Client } from "../net/s3.ts";
import { metricValue, parseMetrics, type Sample } from "../probes/metrics.ts";
import {
  ApiError,
  type Bucket,
  excerpt,
  getText,
  parseApiData,
  readBucket,
  readStores,
  type StoreEntry,
} from "../probes/thanos.ts";
import type { Topology } from "../topology/topology.ts";

export { ApiError, type BlockMeta, type Bucket, type StoreEntry, ulidTime } from "../probes/thanos.ts";

/**
 * Why a process gave no usable answer, told apart as a person must act on it: `down` (nothing listens: start it),
 * `overloaded` (it runs and refused the request with 429/503, or answers its health check but not the request in
 * time: wait, do not restart it), `hung` (not even its health check answers in time), `unreachable` (no route from
 * here), `failing` (it answers with another error).
 */
export type Unavailability = "down" | "overloaded" | "hung" | "unreachable" | "failing";

export interface Unavailable {
  kind: Unavailability;
  /** The cause, in the user's terms, naming the process. */
  cause: string;
  /** What to do when it differs from the check's own hint (a process that runs must not be restarted). */
  fix?: string;
}

/** How long the health check that tells a saturated process from a hung one may take. */
export const HEALTH_TIMEOUT_MS = 2000;

/** The fix for a process that runs but is saturated: true whatever runtime it runs on. */
export function overloadedFix(what: string): string {
  return (
    `${what} runs: do not restart it. Verify again once the load has passed (\`thanos-fleet verify --wait 2m\`); ` +
    "if it stays saturated, find the heavy queries in query-frontend's log, or give the fleet a bigger `profile` in fleet.yaml"
  );
}

/** What an HTTP status says of a process that answered it, or undefined when it says nothing of its load. */
function byStatus(status: number, what: string): Unavailable | undefined {
  if (status === 429)
    return {
      kind: "overloaded",
      cause: `${what} is overloaded: it runs and refused the request with HTTP 429 (too many requests at once)`,
      fix: overloadedFix(what),
    };
  if (status === 503)
    return {
      kind: "overloaded",
      cause: `${what} runs but refused the request with HTTP 503: it is overloaded, or not ready yet`,
      fix: overloadedFix(what),
    };
  if (status === 504)
    return {
      kind: "overloaded",
      cause: `${what} runs but gave up waiting for what it asks behind it (HTTP 504): that is overloaded or hangs`,
      fix: overloadedFix(what),
    };
  return undefined;
}

/**
 * What a failed request says of the process at once, without asking it anything more: a timeout is `hung` here
 * (see unavailable, which asks its health check to tell a saturated process from a hung one).
 */
export function classifyFailure(error: unknown, what: string, notRunning = `${what} is down`): Unavailable {
  if (error instanceof HttpError) {
    if (error.kind === "refused")
      return { kind: "down", cause: `${notRunning}: nothing listens at its address (connection refused)` };
    if (error.kind === "timeout")
      return {
        kind: "hung",
        cause: `${what} accepts connections but does not answer in time: it hangs, or it or the machine is overloaded`,
      };
    if (error.kind === "unreachable")
      return { kind: "unreachable", cause: `${what}'s address is not reachable from here` };
    // A connection reset: the process died with the connection open, or whatever relays to it found nothing behind.
    return { kind: "down", cause: `${notRunning}: ${error.message}` };
  }
  if (error instanceof ApiError && error.status !== 200) {
    return (
      byStatus(error.status, what) ?? {
        kind: "failing",
        cause: `${what} answers, but not as expected (HTTP ${error.status}): another process at its address, or what it asks behind it fails`,
      }
    );
  }
  const message = (error as Error)?.message ?? String(error);
  return { kind: "failing", cause: `${what} answers, but not as expected: ${message}` };
}

/**
 * Like classifyFailure, but a request that timed out is followed by the process's own health check (`/-/healthy`,
 * which Thanos and Prometheus answer outside their query path): answered, the process runs and is saturated;
 * unanswered too, it hangs (or the machine is overloaded); refused, it died meanwhile.
 */
export async function unavailable(
  probe: Probe,
  base: string,
  error: unknown,
  what: string,
  notRunning?: string,
): Promise<Unavailable> {
  const first = classifyFailure(error, what, notRunning);
  if (first.kind !== "hung") return first;
  try {
    const res = await probe.http(join(base, "/-/healthy"), { timeoutMs: HEALTH_TIMEOUT_MS });
    if (res.status === 200) {
      return {
        kind: "overloaded",
        cause: `${what} is overloaded: it runs and answers its health check, but not this request in time (requests queue behind others)`,
        fix: overloadedFix(what),
      };
    }
    return byStatus(res.status, what) ?? first;
  } catch (again) {
    if (again instanceof HttpError && again.kind === "refused")
      return classifyFailure(again, what, notRunning);
    return first;
  }
}

/**
 * Metrics pages are read uncompressed: on loopback or a cluster network, gzip only costs CPU on both sides, and a
 * big fleet's verify reads dozens of them at once.
 */
const UNCOMPRESSED = { "accept-encoding": "identity" };

/**
 * Query checks every endpoint this often (Thanos's `--endpoint.info-timeout`, 5 s by default, which fleet.yaml does
 * not change) and stamps lastCheck on each success: a view whose every lastCheck is younger than this is current,
 * and an endpoint that died more than this long ago either carries lastError or has an older lastCheck.
 */
export const QUERY_ENDPOINT_CHECK_MS = 5000;
/** Room for the check itself on a busy machine, and for query's clock and ours to differ by a little. */
const CHECK_SLACK_MS = 1000;
/** How long `stores` waits for a view that is not current (query's check of an endpoint hangs until its timeout). */
export const CURRENT_VIEW_WAIT_MS = 12_000;
/** How often the view is read again meanwhile: verify ends this soon after query's check, whatever the fleet's size. */
const CURRENT_VIEW_POLL_MS = 100;

export class Probe {
  private readonly memo = new Map<string, Promise<unknown>>();
  readonly s3: S3Client;
  /**
   * A client without the fleet's credentials (trusting the fleet CA, presenting no certificate): the exposure check
   * asks with it what anyone on the network would get. The same as `http` unless verify is given one.
   */
  anonymous: HttpClient;

  constructor(
    readonly topology: Topology,
    readonly endpoints: FleetEndpoints,
    readonly http: HttpClient,
    readonly now: () => Date,
    /** How long `stores` waits for a current view of query's endpoints; 0 takes the first answer as it is. */
    private readonly currentViewWaitMs = 0,
    /** The client for the object store, when it is not `http` (the storage cluster's HTTPS: `s3HttpClient`). */
    readonly s3Http: HttpClient = http,
    /** Anonymous requests to any port, certificates not verified (the storage-doors check). */
    readonly anonymousHttp: HttpClient = http,
  ) {
    this.s3 = new S3Client(endpoints.objectStore, s3Http, now);
    this.anonymous = http;
  }

  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      this.memo.set(key, p);
    }
    return p;
  }

  /** The body of a 2xx answer; ApiError otherwise. */
  text(url: string, headers?: Record<string, string>): Promise<string> {
    return this.once(`text ${url} ${headers?.authorization ?? ""}`, () => this.fetchText(url, headers));
  }

  /** Like text, but asks again each time. */
  private fetchText(url: string, headers?: Record<string, string>): Promise<string> {
    return getText(this.http, url, headers);
  }

  async json<T>(url: string, headers?: Record<string, string>): Promise<T> {
    const body = await this.text(url, headers);
    try {
      return JSON.parse(body) as T;
    } catch (cause) {
      throw new ApiError(url, 200, `${url} did not answer JSON: ${excerpt(body)}`, { cause });
    }
  }

  /** `data` of a Prometheus-style API answer `{status: "success", data}`. */
  async api<T>(base: string, path: string): Promise<T> {
    const url = join(base, path);
    return parseApiData<T>(url, await this.text(url));
  }

  metrics(target: Target): Promise<Sample[]> {
    const url = join(target.url, "/metrics");
    return this.once(`metrics ${url}`, async () => parseMetrics(await this.text(url, UNCOMPRESSED)));
  }

  /** A live fleet, not a recorded one: a check may wait and ask again to see what changes. */
  get live(): boolean {
    return this.currentViewWaitMs > 0;
  }

  /** A target's metrics read again now, not the answer this probe already has. */
  async metricsNow(target: Target): Promise<Sample[]> {
    return parseMetrics(await this.fetchText(join(target.url, "/metrics"), UNCOMPRESSED));
  }

  /** One metric of a target, without parsing the rest of its page (a sidecar's is about 125 KB). */
  async metric(target: Target, name: string): Promise<number | undefined> {
    const text = await this.text(join(target.url, "/metrics"), UNCOMPRESSED);
    const lines = text.split("\n").filter((l) => l.startsWith(name));
    return metricValue(parseMetrics(lines.join("\n")), name);
  }

  /**
   * Every StoreAPI a query replica knows, flattened over its types, as query checked it within its last check
   * interval: an endpoint not checked since (a sidecar that died since still "healthy") is asked again until it is.
   */
  stores(query: Target): Promise<StoreEntry[]> {
    return this.once(`stores ${query.url}`, async () => {
      const read = () => readStores(this.http, query.url);
      // An endpoint whose last check failed is current: query stamps lastCheck on success only.
      const notCurrent = (e: StoreEntry) =>
        !e.lastError &&
        e.lastCheck !== undefined &&
        Date.parse(e.lastCheck) < this.now().getTime() - QUERY_ENDPOINT_CHECK_MS - CHECK_SLACK_MS;
      const deadline = Date.now() + this.currentViewWaitMs;
      let entries = await read();
      while (this.currentViewWaitMs > 0 && entries.some(notCurrent) && Date.now() < deadline) {
        await sleep(CURRENT_VIEW_POLL_MS);
        entries = await read();
      }
      return this.currentViewWaitMs > 0
        ? entries.map((e) => (notCurrent(e) ? { ...e, stale: true } : e))
        : entries;
    });
  }

  /** The bucket's blocks with their meta.json; throws S3Error/HttpError when the bucket cannot be listed. */
  bucket(): Promise<Bucket> {
    return this.once("bucket", () => readBucket(this.s3));
  }
}
