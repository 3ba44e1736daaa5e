// What any Thanos shows of itself, read without knowing who made it: the shapes of its APIs' answers and the
// bucket's blocks. verify's Probe and doctor both read through these.
import { HttpError } from "../net/http.ts";
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
        blocks.push({
          ulid,
          minTime: meta.minTime,
          maxTime: meta.maxTime,
          labels: meta.thanos?.labels ?? {},
          level: meta.compaction?.level ?? 1,
          resolution: meta.thanos?.downsample?.resolution ?? 0,
          source: meta.thanos?.source,
          uploadedAt: Date.parse(meta.thanos?.upload_time ?? "") || ulidTime(ulid),
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
