// Downloads one file over HTTP(S) to a given path: resumed after a cut connection, timed out when the server
// goes silent, and checked against the SHA-256 expected of it before anyone uses it.

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

export type DownloadFailure = "network" | "http" | "timeout" | "truncated" | "checksum" | "content";

/** A download that did not yield the pinned bytes; `reason` tells a missing network from a bad file. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly reason: DownloadFailure,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DownloadError";
  }
}

export interface DownloadOptions {
  /** The SHA-256 the bytes must have; without one, anything whole is taken (a checksum file). */
  sha256?: string;
  /** Where the expected sum comes from, for the message on a mismatch; default "the pinned". */
  sumSource?: string;
  /** Give up when no byte arrives for this long (connecting included). Default 30 s. */
  idleTimeoutMs?: number;
  /** Requests in all, the first included, when the connection is cut mid-way. Default 5. */
  attempts?: number;
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number | undefined) => void;
}

/**
 * Downloads `url` into `dest` (created or overwritten); rejects with a DownloadError unless its SHA-256 matches.
 * Resolves to the SHA-256 of what was downloaded.
 */
export async function download(url: string, dest: string, opts: DownloadOptions): Promise<string> {
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const attempts = opts.attempts ?? 5;
  const host = new URL(url).host;
  const file = await open(dest, "w");
  try {
    let hash = createHash("sha256");
    let got = 0;
    let total: number | undefined;
    for (let attempt = 1; ; attempt++) {
      opts.signal?.throwIfAborted();
      const controller = new AbortController();
      const onAbort = () => controller.abort(opts.signal?.reason);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      let idle: NodeJS.Timeout | undefined;
      let timedOut = false;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, idleMs);
      };
      const timeout = () =>
        new DownloadError(
          `${host} sent nothing for ${seconds(idleMs)} (${got} of ${total ?? "?"} bytes received)`,
          "timeout",
        );
      try {
        arm();
        let res: Response;
        try {
          res = await fetch(url, {
            headers: got > 0 ? { Range: `bytes=${got}-` } : {},
            signal: controller.signal,
          });
        } catch (err) {
          opts.signal?.throwIfAborted();
          if (timedOut) throw timeout();
          throw new DownloadError(`cannot reach ${host}: ${networkCause(err)}`, "network", { cause: err });
        }
        if (got > 0 && res.status === 206 && rangeStart(res) === got) {
          // Resumed where the cut left off.
        } else if (res.status === 200) {
          if (got > 0) {
            // The server ignores ranges: start over.
            got = 0;
            hash = createHash("sha256");
            await file.truncate(0);
          }
          total = numberHeader(res.headers.get("content-length"));
        } else if (res.status === 206 && got > 0 && attempt < attempts) {
          // A range other than the one asked for: start over without one.
          await res.body?.cancel().catch(() => {});
          got = 0;
          hash = createHash("sha256");
          await file.truncate(0);
          continue;
        } else {
          await res.body?.cancel().catch(() => {});
          throw new DownloadError(`${url} answered HTTP ${res.status} ${res.statusText}`.trim(), "http");
        }
        if (res.status === 206) total = rangeTotal(res) ?? total;
        opts.onProgress?.(got, total);
        try {
          for await (const chunk of res.body ?? []) {
            arm();
            const bytes = chunk as Uint8Array;
            await file.write(bytes, 0, bytes.length, got);
            hash.update(bytes);
            got += bytes.length;
            opts.onProgress?.(got, total);
          }
        } catch (err) {
          opts.signal?.throwIfAborted();
          if (timedOut) throw timeout();
          if (attempt >= attempts) {
            throw new DownloadError(
              `${host} cut the connection ${attempts} times (${got} of ${total ?? "?"} bytes received)`,
              "truncated",
              { cause: err },
            );
          }
          continue;
        }
        if (total !== undefined && got < total) {
          if (attempt >= attempts) {
            throw new DownloadError(`${host} sent ${got} of ${total} bytes`, "truncated");
          }
          continue;
        }
        break;
      } finally {
        clearTimeout(idle);
        opts.signal?.removeEventListener("abort", onAbort);
      }
    }
    const digest = hash.digest("hex");
    if (opts.sha256 !== undefined && digest !== opts.sha256) {
      const expected =
        opts.sumSource === undefined ? `the pinned ${opts.sha256}` : `${opts.sha256} ${opts.sumSource}`;
      throw new DownloadError(`SHA-256 of ${url} is ${digest}, not ${expected}: refused`, "checksum");
    }
    return digest;
  } finally {
    await file.close();
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function numberHeader(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** `Content-Range: bytes <start>-<end>/<total>`. */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : undefined;
}

function rangeTotal(res: Response): number | undefined {
  const m = /^bytes \d+-\d+\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : undefined;
}

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ENOTFOUND: "its name does not resolve",
  EAI_AGAIN: "its name does not resolve",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENETUNREACH: "no route to it",
  EHOSTUNREACH: "no route to it",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
};

/** fetch wraps the socket error: say what its code (ENOTFOUND, ECONNREFUSED, ENETUNREACH …) means. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${NETWORK_CODES[cause.code] ?? "network error"} (${cause.code})`;
  return cause?.message ?? (err as Error).message;
}
