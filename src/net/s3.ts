// The S3 calls verify and the local bucket setup make, path-style and SigV4-signed: HeadBucket, ListObjectsV2 and
// GetObject to read the bucket; CreateBucket and DeleteBucket to make buckets, or to prove a key may not.
import { fetchClient, type HttpClient, join } from "./http.ts";
import { nodeClient } from "./https.ts";
import { signV4, uriEncode } from "./sigv4.ts";

export interface S3Access {
  /** Base URL, e.g. `http://127.0.0.1:32000`. */
  url: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region?: string;
}

/**
 * The HTTP client for an S3 endpoint: with `ca`, one that verifies the server against that CA and `serverName` (the
 * storage cluster's HTTPS); else the system's trust.
 */
export function s3HttpClient(store: { ca?: string; serverName?: string }, timeoutMs: number): HttpClient {
  if (!store.ca) return fetchClient(timeoutMs);
  return nodeClient({
    timeoutMs,
    tls: { ca: store.ca, ...(store.serverName ? { servername: store.serverName } : {}) },
  });
}

/** S3 answered, with an error. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Listing {
  /** Common prefixes (with the delimiter) and keys. */
  prefixes: string[];
  keys: { key: string; lastModified?: string; size?: number }[];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x?[0-9a-fA-F]+|\w+);/g, (whole, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? decodeXml(m[1] as string) : undefined;
}

function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1] as string);
}

export function parseListing(xml: string): Listing & { truncated: boolean; next?: string } {
  return {
    prefixes: tags(xml, "CommonPrefixes").map((p) => tag(p, "Prefix") ?? ""),
    keys: tags(xml, "Contents").map((c) => {
      const size = tag(c, "Size");
      return {
        key: tag(c, "Key") ?? "",
        lastModified: tag(c, "LastModified"),
        size: size ? Number(size) : undefined,
      };
    }),
    truncated: tag(xml, "IsTruncated") === "true",
    next: tag(xml, "NextContinuationToken"),
  };
}

function errorFrom(status: number, body: string, what: string): S3Error {
  const code =
    tag(body, "Code") ?? (status === 404 ? "NotFound" : status === 403 ? "Forbidden" : `HTTP${status}`);
  const message = tag(body, "Message") ?? "";
  return new S3Error(status, code, `${what}: ${status} ${code}${message ? ` (${message})` : ""}`);
}

export class S3Client {
  constructor(
    private readonly access: S3Access,
    private readonly http: HttpClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The same access to another bucket. */
  forBucket(bucket: string): S3Client {
    return new S3Client({ ...this.access, bucket }, this.http, this.now);
  }

  get bucket(): string {
    return this.access.bucket;
  }

  private async call(
    method: "GET" | "HEAD" | "PUT" | "DELETE",
    key: string,
    query: Record<string, string> = {},
  ) {
    const path = `/${uriEncode(this.access.bucket)}${key ? `/${uriEncode(key, true)}` : ""}`;
    const url = new URL(join(this.access.url, path));
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const signed = signV4({
      method,
      url,
      region: this.access.region || "us-east-1",
      accessKey: this.access.accessKey,
      secretKey: this.access.secretKey,
      date: this.now(),
    });
    // URLSearchParams encodes spaces as '+'; send the query exactly as it was signed.
    const query2 = signed.canonicalRequest.split("\n")[2] ?? "";
    const target = `${url.origin}${url.pathname}${query2 ? `?${query2}` : ""}`;
    return this.http(target, { method, headers: signed.headers });
  }

  /** CreateBucket; resolves to false when the bucket exists already and is this key's. */
  async createBucket(): Promise<boolean> {
    const res = await this.call("PUT", "");
    if (res.status === 200) return true;
    const error = errorFrom(res.status, res.body, `CreateBucket ${this.access.bucket}`);
    if (error.code === "BucketAlreadyOwnedByYou") return false;
    throw error;
  }

  async deleteBucket(): Promise<void> {
    const res = await this.call("DELETE", "");
    if (res.status !== 204 && res.status !== 200) {
      throw errorFrom(res.status, res.body, `DeleteBucket ${this.access.bucket}`);
    }
  }

  async headBucket(): Promise<void> {
    const res = await this.call("HEAD", "");
    if (res.status !== 200) throw errorFrom(res.status, res.body, `HeadBucket ${this.access.bucket}`);
  }

  /** Every key (or common prefix) under prefix, following continuation tokens. */
  async list(opts: { prefix?: string; delimiter?: string } = {}): Promise<Listing> {
    const out: Listing = { prefixes: [], keys: [] };
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix: opts.prefix ?? "" };
      if (opts.delimiter) query.delimiter = opts.delimiter;
      if (token) query["continuation-token"] = token;
      const res = await this.call("GET", "", query);
      if (res.status !== 200) throw errorFrom(res.status, res.body, `ListObjectsV2 ${this.access.bucket}`);
      const page = parseListing(res.body);
      out.prefixes.push(...page.prefixes);
      out.keys.push(...page.keys);
      token = page.truncated ? page.next : undefined;
    } while (token);
    return out;
  }

  async get(key: string): Promise<string> {
    const res = await this.call("GET", key);
    if (res.status !== 200) throw errorFrom(res.status, res.body, `GetObject ${this.access.bucket}/${key}`);
    return res.body;
  }
}
