// The one seam between verify and the network: plain HTTP GETs with a deadline, errors named by URL and kind.

export interface HttpRequest {
  method?: "GET" | "HEAD" | "PUT" | "DELETE" | "POST";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** The name the server's certificate is verified against, when not the client's own (node clients only). */
  servername?: string;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export type HttpClient = (url: string, req?: HttpRequest) => Promise<HttpResponse>;

export type HttpErrorKind = "refused" | "timeout" | "unreachable" | "other";

/** A request that got no HTTP answer at all. */
export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly kind: HttpErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const UNREACHABLE = new Set(["EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"]);

function classify(url: string, timeoutMs: number, error: unknown): HttpError {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") {
    return new HttpError(url, "timeout", `no answer from ${url} within ${timeoutMs} ms`, { cause: error });
  }
  const code = e?.cause?.code;
  if (code === "ECONNREFUSED")
    return new HttpError(url, "refused", `connection refused at ${url}`, { cause: error });
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") {
    return new HttpError(url, "other", `connection reset by ${url}`, { cause: error });
  }
  if (code && UNREACHABLE.has(code)) {
    return new HttpError(url, "unreachable", `${url} is unreachable (${code})`, { cause: error });
  }
  const reason = e?.cause?.message ?? e?.message ?? String(error);
  return new HttpError(url, "other", `request to ${url} failed: ${reason}`, { cause: error });
}

/**
 * A deadline that keeps Node running until it fires or is cleared. AbortSignal.timeout's timer does not: a fetch whose
 * connection holds no active handle would leave nothing pending, and Node would exit mid-await with code 13.
 */
export function deadline(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** The real client: Node's fetch, one deadline per request (body included). */
export function fetchClient(defaultTimeoutMs: number): HttpClient {
  return async (url, req = {}) => {
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const limit = deadline(timeoutMs);
    try {
      const res = await fetch(url, {
        method: req.method ?? "GET",
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        redirect: "manual",
        signal: limit.signal,
      });
      const body = req.method === "HEAD" ? "" : await res.text();
      const headers: Record<string, string> = {};
      res.headers.forEach((value, key) => {
        headers[key] = value;
      });
      return { status: res.status, headers, body };
    } catch (error) {
      throw classify(url, timeoutMs, error);
    } finally {
      limit.clear();
    }
  };
}

/** Joins a base URL and a path without doubling or dropping the slash. */
export function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
