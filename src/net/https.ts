// An HttpClient over node:http and node:https, for endpoints that fetch cannot reach as they are: behind a private CA,
// asking for a client certificate, or behind basic auth or a bearer token.

import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { fetchClient, type HttpClient, HttpError, type HttpErrorKind } from "./http.ts";

export interface TlsMaterial {
  /** PEM: the CA that signed the servers' certificates (else the system's). */
  ca?: string;
  /** PEM: a client certificate and its key, for servers that ask for one. */
  cert?: string;
  key?: string;
  /** The name the server's certificate is verified against, whatever address is dialled. */
  servername?: string;
  /** Do not verify the server's certificate (only for probes that prove a server refuses). */
  insecure?: boolean;
}

export interface ClientOptions {
  timeoutMs: number;
  tls?: TlsMaterial;
  /** The Authorization header sent with every request (`Basic …` or `Bearer …`). */
  authorization?: string;
  /** Keep connections open for the next request (the default); false closes each after its answer. */
  keepAlive?: boolean;
}

const KINDS: Record<string, HttpErrorKind> = {
  ECONNREFUSED: "refused",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  ENOTFOUND: "unreachable",
  EAI_AGAIN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
};

export function nodeClient(opts: ClientOptions): HttpClient {
  // The server name goes with each request: an agent's own options override a request's.
  const { insecure, servername: _, ...tls } = opts.tls ?? {};
  const agent = new https.Agent({
    ...tls,
    ...(insecure ? { rejectUnauthorized: false } : {}),
    keepAlive: opts.keepAlive ?? true,
  });
  const plain = new http.Agent({ keepAlive: opts.keepAlive ?? true });
  return (url, req = {}) => {
    const timeoutMs = req.timeoutMs ?? opts.timeoutMs;
    const target = new URL(url);
    const secure = target.protocol === "https:";
    const headers = { ...req.headers };
    if (opts.authorization) headers.authorization = opts.authorization;
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(
        target,
        {
          method: req.method ?? "GET",
          headers,
          agent: secure ? agent : plain,
          ...(secure && (req.servername ?? opts.tls?.servername)
            ? { servername: req.servername ?? opts.tls?.servername }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (error) => reject(new HttpError(url, "other", `reading ${url}: ${error.message}`)));
          res.on("end", () => {
            clearTimeout(timer);
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: out,
              body: Buffer.concat(chunks).toString("utf8"),
            });
          });
        },
      );
      const timer = setTimeout(() => {
        request.destroy();
        reject(new HttpError(url, "timeout", `no answer from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      request.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const kind = KINDS[error.code ?? ""] ?? "other";
        const what =
          kind === "refused"
            ? `connection refused at ${url}`
            : kind === "unreachable"
              ? `${url} is unreachable (${error.code})`
              : `request to ${url} failed: ${error.message}`;
        reject(new HttpError(url, kind, what, { cause: error }));
      });
      request.end(req.body);
    });
  };
}

/** A client that refuses anything but GET and HEAD, for tools that promise to change nothing. */
export function readOnlyClient(inner: HttpClient): HttpClient {
  return (url, req = {}) => {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      return Promise.reject(new Error(`refusing ${method} ${url}: this client only reads`));
    }
    return inner(url, req);
  };
}

/** The fleet's client certificate, its key and the CA, as files (`FleetEndpoints.httpTls`). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  serverName: string;
}

/**
 * The client thanos-fleet talks to its fleet with: with `tls.http`, one that presents the fleet's client certificate
 * and trusts only the fleet CA (read once, here); else Node's fetch.
 */
export function fleetClient(timeoutMs: number, tls?: TlsFiles, keepAlive = true): HttpClient {
  if (!tls) return fetchClient(timeoutMs);
  let material: TlsMaterial;
  try {
    material = {
      ca: readFileSync(tls.ca, "utf8"),
      cert: readFileSync(tls.cert, "utf8"),
      key: readFileSync(tls.key, "utf8"),
      ...(tls.serverName ? { servername: tls.serverName } : {}),
    };
  } catch (cause) {
    throw new Error(
      `the fleet's client certificate (${tls.cert}, ${tls.key}, ${tls.ca}) cannot be read: ` +
        "run `thanos-fleet up` again to restore it",
      { cause },
    );
  }
  return nodeClient({ timeoutMs, tls: material, keepAlive });
}

/** A client that trusts the fleet CA but presents no certificate: what anyone on the network can send. */
export function anonymousClient(timeoutMs: number, tls?: TlsFiles): HttpClient {
  if (!tls) return fetchClient(timeoutMs);
  const ca = readFileSync(tls.ca, "utf8");
  return nodeClient({ timeoutMs, tls: { ca, ...(tls.serverName ? { servername: tls.serverName } : {}) } });
}
