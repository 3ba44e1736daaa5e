// Recorded API answers of a real fleet, for unit tests of each check: record once from a running fleet, replay offline.
import { readFileSync } from "node:fs";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { type HttpClient, HttpError, type HttpErrorKind, type HttpRequest } from "../../src/net/http.ts";

export type Recorded = { status: number; body: string } | { error: HttpErrorKind; message: string };

export interface Recording {
  /** What was broken when it was recorded, in a sentence. */
  scenario: string;
  /** When it was recorded: the clock the checks run with on replay. */
  now: string;
  /** Checks it holds no answers for (added to verify after it was recorded): replays leave them out. */
  skip?: string[];
  endpoints: FleetEndpoints;
  responses: Record<string, Recorded>;
}

/** Metric families the checks read; the rest of each /metrics page is dropped from recordings. */
const KEPT_METRICS =
  /^(process_start_time_seconds|http_requests_total\{[^}]*handler="receive"|prometheus_remote_storage_samples_failed_total|thanos_(receive_hashring_nodes|receive_replications_total|compact_halted|compact_iterations_total|compact_todo_compactions|sidecar_prometheus_up|shipper_upload|shipper_uploads_total|blocks_meta_sync_failures_total|bucket_store_block_load_failures_total|bucket_store_blocks_loaded|alert_sender_))/;

function trim(url: string, body: string): string {
  if (!url.endsWith("/metrics")) return body;
  return body
    .split("\n")
    .filter((l) => KEPT_METRICS.test(l))
    .join("\n");
}

/** A recording's key: the URL, after the method when it is not GET. */
function keyOf(url: string, req?: HttpRequest): string {
  return req?.method && req.method !== "GET" ? `${req.method} ${url}` : url;
}

/** Passes requests through and keeps every answer (or failure) by URL. */
export function recordingClient(inner: HttpClient, into: Record<string, Recorded>): HttpClient {
  return async (url, req) => {
    try {
      const res = await inner(url, req);
      into[keyOf(url, req)] = { status: res.status, body: trim(url, res.body) };
      return res;
    } catch (error) {
      if (error instanceof HttpError) into[keyOf(url, req)] = { error: error.kind, message: error.message };
      throw error;
    }
  };
}

/** Answers from a recording; a URL that was never recorded is a test bug and says so. */
export function replayClient(responses: Record<string, Recorded>): HttpClient {
  return async (url, req) => {
    const r = responses[keyOf(url, req)];
    if (!r) throw new Error(`not recorded: ${keyOf(url, req)}`);
    if ("error" in r) throw new HttpError(url, r.error, r.message);
    return { status: r.status, headers: {}, body: r.body };
  };
}

/** What verifyFleet needs to replay a recording: its answers, its clock, and the checks it cannot answer. */
export function replayOptions(rec: Recording): {
  http: HttpClient;
  now: () => Date;
  skip?: string[];
} {
  const now = new Date(rec.now);
  return { http: replayClient(rec.responses), now: () => now, ...(rec.skip ? { skip: rec.skip } : {}) };
}

/** A recording from src/verify/testdata/ by name, e.g. `healthy`. */
export function readRecording(name: string): Recording {
  return JSON.parse(
    readFileSync(new URL(`../../src/verify/testdata/${name}.json`, import.meta.url), "utf8"),
  ) as Recording;
}
