// What any Thanos shows of itself, read without knowing who made it: the shapes of its APIs' answers and the
// bucket's blocks. verify's Probe and doctor both read through these.
import { type HttpClient, HttpError, join } from "../net/http.ts";
import type { S3Client } from "../net/s3.ts";

/** An HTTP answer that is not what the API promises. */
export class ApiError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface StoreEntry {
  /** The component type query sorted it under: sidecar, store, rule, receive, … */
  type: string;
  /** The address query dials. */
  name: string;
  lastCheck?: string;
  lastError: string | null;
  /** Query's last check of it is older than one endpoint check interval (plus slack), even after the wait. */
  stale?: boolean;
  labelSets: Record<string, string>[];
  minTime: number;
  maxTime: number;
}

export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  labels: Record<string, string>;
  level: number;
  resolution: number;
  /** Who wrote it: sidecar, ruler, compactor, … */
  source?: string;
  /** When it reached the bucket (ms); from meta.json, else the block ULID's own time. */
  uploadedAt: number;
  /** The raw blocks it was compacted from (its own ULID for a block as Prometheus wrote it). */
  sources?: string[];
  /** Size of its index file, as meta.json lists its files (a store gateway's index header is made from it). */
  indexBytes?: number;
}

export interface Bucket {
  blocks: BlockMeta[];
  /** Block directories whose meta.json could not be read (partial uploads, or being deleted). */
  unreadable: { ulid: string; error: string }[];
}

const ULID_DIR = /^([0-9A-HJKMNP-TV-Z]{26})\/$/;
const META_CONCURRENCY = 16;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The creation time a ULID carries in its first 10 characters (ms since the epoch). */
export function ulidTime(ulid: string): number {
  let t = 0;
  for (const c of ulid.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(c);
  return t;
}

/** A body cut to one line of at most 200 characters, for an error message. */
export function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/** The bucket's blocks with their meta.json; throws S3Error/HttpError when the bucket cannot be listed. */
export async function readBucket(s3: S3Client): Promise<Bucket> {
  const listing = await s3.list({ delimiter: "/" });
  const ulids = listing.prefixes.map((p) => ULID_DIR.exec(p)?.[1]).filter((u): u is string => Boolean(u));
  const blocks: BlockMeta[] = [];
  const unreadable: Bucket["unreadable"] = [];
  let next = 0;
  const worker = async () => {
    while (next < ulids.length) {
      const ulid = ulids[next++] as string;
      try {
        const meta = JSON.parse(await s3.get(`${ulid}/meta.json`));
        const files: { rel_path?: string; size_bytes?: number }[] = meta.thanos?.files ?? [];
        const indexBytes = files.find((f) => f.rel_path === "index")?.size_bytes;
        blocks.push({
          ulid,
          minTime: meta.minTime,
          maxTime: meta.maxTime,
          labels: meta.thanos?.labels ?? {},
          level: meta.compaction?.level ?? 1,
          resolution: meta.thanos?.downsample?.resolution ?? 0,
          source: meta.thanos?.source,
          uploadedAt: Date.parse(meta.thanos?.upload_time ?? "") || ulidTime(ulid),
          ...(typeof indexBytes === "number" ? { indexBytes } : {}),
          sources: meta.compaction?.sources ?? [ulid],
        });
      } catch (error) {
        if (error instanceof HttpError) throw error;
        unreadable.push({ ulid, error: (error as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(META_CONCURRENCY, ulids.length) }, worker));
  blocks.sort((a, b) => a.minTime - b.minTime);
  return { blocks, unreadable };
}

/** The body of a 2xx answer to a GET; ApiError otherwise. */
export async function getText(
  http: HttpClient,
  url: string,
  headers?: Record<string, string>,
): Promise<string> {
  const res = await http(url, { headers });
  if (res.status < 200 || res.status > 299) {
    throw new ApiError(url, res.status, `${url} answered ${res.status}: ${excerpt(res.body)}`);
  }
  return res.body;
}

/** `data` of a Prometheus-style API answer `{status: "success", data}`. */
export async function apiData<T>(http: HttpClient, base: string, path: string): Promise<T> {
  const url = join(base, path);
  return parseApiData<T>(url, await getText(http, url));
}

/** `data` of the body of a Prometheus-style API answer from `url`; ApiError when it is not JSON or not a success. */
export function parseApiData<T>(url: string, body: string): T {
  let parsed: { status?: string; data?: T; error?: string };
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new ApiError(url, 200, `${url} did not answer JSON: ${excerpt(body)}`, { cause });
  }
  if (parsed.status !== "success" || parsed.data === undefined) {
    throw new ApiError(
      url,
      200,
      `${url} answered status ${parsed.status ?? "?"}: ${parsed.error ?? "no data"}`,
    );
  }
  return parsed.data;
}

/** Every StoreAPI a query knows (`/api/v1/stores`), flattened over the types it sorts them under. */
export async function readStores(http: HttpClient, queryUrl: string): Promise<StoreEntry[]> {
  const data = await apiData<Record<string, Omit<StoreEntry, "type">[] | null>>(
    http,
    queryUrl,
    "/api/v1/stores",
  );
  return Object.entries(data).flatMap(([type, entries]) =>
    (entries ?? []).map((e) => ({
      ...e,
      type,
      labelSets: e.labelSets ?? [],
      lastError: e.lastError ?? null,
    })),
  );
}

/**
 * A component's command-line flags (`/api/v1/status/flags`: Prometheus, and the Thanos components that serve a web
 * UI); undefined when it does not serve them.
 */
export async function readFlags(http: HttpClient, base: string): Promise<Record<string, string> | undefined> {
  try {
    return await apiData<Record<string, string>>(http, base, "/api/v1/status/flags");
  } catch (error) {
    if (error instanceof ApiError) return undefined;
    throw error;
  }
}

export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; `params` adds Thanos's own (`dedup`, `partial_response`, …). */
export function instantQuery(
  http: HttpClient,
  base: string,
  expr: string,
  params: Record<string, string> = {},
): Promise<{ resultType: string; result: InstantSample[] }> {
  const q = new URLSearchParams({ query: expr, ...params });
  return apiData(http, base, `/api/v1/query?${q}`);
}
