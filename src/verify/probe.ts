// What checks read from the fleet, fetched once per verify and shared: checks ask, the probe remembers.
import { setTimeout as sleep } from "node:timers/promises";
import type { FleetEndpoints, Target } from "../endpoints.ts";
import { type HttpClient, join } from "../net/http.ts";
import { S3Client } from "../net/s3.ts";
import { metricValue, parseMetrics, type Sample } from "../probes/metrics.ts";
import { ApiError, type Bucket, excerpt, readBucket, type StoreEntry } from "../probes/thanos.ts";
import type { Topology } from "../topology/topology.ts";

export { ApiError, type BlockMeta, type Bucket, type StoreEntry, ulidTime } from "../probes/thanos.ts";

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

  constructor(
    readonly topology: Topology,
    readonly endpoints: FleetEndpoints,
    readonly http: HttpClient,
    readonly now: () => Date,
    /** How long `stores` waits for a current view of query's endpoints; 0 takes the first answer as it is. */
    private readonly currentViewWaitMs = 0,
  ) {
    this.s3 = new S3Client(endpoints.objectStore, http, now);
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
  private async fetchText(url: string, headers?: Record<string, string>): Promise<string> {
    const res = await this.http(url, { headers });
    if (res.status < 200 || res.status > 299) {
      throw new ApiError(url, res.status, `${url} answered ${res.status}: ${excerpt(res.body)}`);
    }
    return res.body;
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
    const body = await this.json<{ status?: string; data?: T; error?: string }>(url);
    if (body.status !== "success" || body.data === undefined) {
      throw new ApiError(
        url,
        200,
        `${url} answered status ${body.status ?? "?"}: ${body.error ?? "no data"}`,
      );
    }
    return body.data;
  }

  metrics(target: Target): Promise<Sample[]> {
    const url = join(target.url, "/metrics");
    return this.once(`metrics ${url}`, async () => parseMetrics(await this.text(url, UNCOMPRESSED)));
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
      const url = join(query.url, "/api/v1/stores");
      const read = async () => {
        const body = await this.fetchText(url);
        const parsed = JSON.parse(body) as {
          status?: string;
          data?: Record<string, Omit<StoreEntry, "type">[] | null>;
          error?: string;
        };
        if (parsed.status !== "success" || parsed.data === undefined) {
          throw new ApiError(
            url,
            200,
            `${url} answered status ${parsed.status ?? "?"}: ${parsed.error ?? "no data"}`,
          );
        }
        return Object.entries(parsed.data).flatMap(([type, entries]) =>
          (entries ?? []).map((e) => ({
            ...e,
            type,
            labelSets: e.labelSets ?? [],
            lastError: e.lastError ?? null,
          })),
        );
      };
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
