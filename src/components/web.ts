// HTTPS on every HTTP server whose port leaves its cluster, and the TLS the fleet's own clients present to them: one
// place, read by every component module (Thanos `--http.config`, Prometheus and Alertmanager `--web.config.file`).
import { stringify } from "../yaml.ts";
import type { HttpTls, SpecContext } from "./context.ts";
import type { ConfigFile } from "./types.ts";

export const WEB_CONFIG_FILE = "web-config.yaml";
export const HTTP_TLS_FILES = {
  ca: "http-ca.crt",
  cert: "http-tls.crt",
  key: "http-tls.key",
  clientCert: "http-client.crt",
  clientKey: "http-client.key",
} as const;

/**
 * exporter-toolkit's `rate_limit`: one token bucket in front of every HTTP path of the server, /-/healthy, /-/ready
 * and /metrics included. It holds `burst` tokens and gains one every `interval`; a request that finds none is answered
 * 429 Too Many Requests at once, before any handler runs. Thanos v0.42 reads it once at start.
 */
export interface RateLimit {
  /** A Go duration: "125ms". */
  interval: string;
  burst: number;
}

/** The sections besides TLS a server's web config may have (exporter-toolkit v0.15 rejects keys it does not know). */
export interface WebSections {
  rate_limit?: RateLimit;
}

/** The flag that reads the web config: Thanos's, or Prometheus's and Alertmanager's (both exporter-toolkit). */
export type WebConfigFlag = "--http.config" | "--web.config.file";

/**
 * The exporter-toolkit web config of one server, as one object: other sections (such as `rate_limit`) merge into it
 * here. With `tls.http`, HTTPS with the fleet's server certificate, and only clients presenting a certificate from
 * the fleet CA get an answer (the TLS handshake fails for the others: no anonymous request reaches a handler, not
 * `/-/quit`, not the TSDB admin API, not a silence).
 */
export function webConfig(
  tls: HttpTls | undefined,
  dir: string,
  sections: WebSections = {},
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = { ...sections };
  if (tls) {
    out.tls_server_config = {
      cert_file: `${dir}/${HTTP_TLS_FILES.cert}`,
      key_file: `${dir}/${HTTP_TLS_FILES.key}`,
      client_ca_file: `${dir}/${HTTP_TLS_FILES.ca}`,
      client_auth_type: "RequireAndVerifyClientCert",
      min_version: "TLS12",
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The files a server with `tls.http` reads: the CA that signs its clients, its certificate and key. */
function serverTlsFiles(tls: HttpTls): ConfigFile[] {
  return [
    { name: HTTP_TLS_FILES.ca, content: tls.ca },
    { name: HTTP_TLS_FILES.cert, content: tls.cert },
    { name: HTTP_TLS_FILES.key, content: tls.key, secret: true },
  ];
}

/**
 * What an exposed HTTP server adds to its container: the web config flag, the web config and its TLS files. Nothing
 * without `tls.http` and other sections.
 */
export function webServer(
  ctx: SpecContext,
  dir: string,
  flag: WebConfigFlag,
  sections: WebSections = {},
): { args: string[]; files: ConfigFile[] } {
  const config = webConfig(ctx.httpTls, dir, sections);
  if (!config) return { args: [], files: [] };
  return {
    args: [`${flag}=${dir}/${WEB_CONFIG_FILE}`],
    files: [
      { name: WEB_CONFIG_FILE, content: stringify(config) },
      ...(ctx.httpTls ? serverTlsFiles(ctx.httpTls) : []),
    ],
  };
}

/** The scheme the fleet's clients use for an exposed HTTP server. */
export function webScheme(ctx: SpecContext): "http" | "https" {
  return ctx.httpTls ? "https" : "http";
}

/**
 * What a client inside the fleet needs to reach an exposed HTTP server: a Prometheus-style `tls_config` (Prometheus
 * scrapes and alerting, Thanos's HTTP client configs, query-frontend's downstream tripper) and its files.
 */
export function webClient(
  ctx: SpecContext,
  dir: string,
): { scheme: "http" | "https"; tlsConfig?: Record<string, string>; files: ConfigFile[] } {
  const tls = ctx.httpTls;
  if (!tls) return { scheme: "http", files: [] };
  return {
    scheme: "https",
    tlsConfig: {
      ca_file: `${dir}/${HTTP_TLS_FILES.ca}`,
      cert_file: `${dir}/${HTTP_TLS_FILES.clientCert}`,
      key_file: `${dir}/${HTTP_TLS_FILES.clientKey}`,
      // No name: the address dialled is verified, which each server's own certificate names (local runtime).
      ...(tls.serverName ? { server_name: tls.serverName } : {}),
    },
    files: clientTlsFiles(tls),
  };
}

/**
 * Whether a process of `binary` takes a renewed HTTP client certificate from its file with no restart. Prometheus and
 * Alertmanager do (prometheus/common v0.70.1 reads the pair at each handshake). Thanos v0.42.4's HTTP clients do not:
 * `pkg/clientconfig/http.go` hands the CA file to prometheus/common's TLSRoundTripper as the client certificate
 * (`TLSRoundTripperSettings{Cert: NewFileSecret(CAFile)}`, no `CA`), so when the certificate file changes the
 * round tripper rebuilds itself without a CA and every later request fails ("unable to use specified CA cert: none
 * configured"): query-frontend's downstream, the rulers' query and Alertmanager configs, the sidecar's
 * `--prometheus.http-client-file`. Their copy is part of their spec: a renewal reaches them by a restart (a rollout).
 */
export function reloadsHttpClientCert(binary: string): boolean {
  return binary !== "thanos";
}

/**
 * The certificates a process of `binary` re-reads from their files, renewed on their own keys and so written in place
 * with no restart (nor any part of its spec's hash): the fleet's gRPC client certificate (Thanos's clientTLSManager
 * checks the files at each handshake), its HTTP client one unless Thanos's (reloadsHttpClientCert), and for SeaweedFS
 * the storage cluster's two (SEAWEEDFS_CERT_REFRESH). MinIO's stays in its spec: a renewal rolls it.
 */
export function renewedInPlace(
  binary: string,
  tls: {
    grpcTls?: { clientCert: string } | undefined;
    httpTls?: { clientCert: string } | undefined;
    s3Tls?: { cert: string; internalCert: string } | undefined;
  },
): string[] {
  return [
    tls.grpcTls?.clientCert,
    reloadsHttpClientCert(binary) ? tls.httpTls?.clientCert : undefined,
    ...(binary === "weed" ? [tls.s3Tls?.cert, tls.s3Tls?.internalCert] : []),
  ].filter((x) => x !== undefined);
}

/** How a Prometheus job reaches an exposed HTTP server: with `tls.http`, HTTPS and the fleet's client certificate. */
export type ScrapeTls = { scheme?: "https"; tls_config?: Record<string, string> };

export function scrapeTls(client: { tlsConfig?: Record<string, string> }): ScrapeTls {
  return client.tlsConfig ? { scheme: "https", tls_config: client.tlsConfig } : {};
}

function clientTlsFiles(tls: HttpTls): ConfigFile[] {
  return [
    { name: HTTP_TLS_FILES.ca, content: tls.ca },
    { name: HTTP_TLS_FILES.clientCert, content: tls.clientCert },
    { name: HTTP_TLS_FILES.clientKey, content: tls.clientKey, secret: true },
  ];
}

/** Files by name, the first of each kept: a server that is also a client needs the CA once. */
export function uniqueFiles(files: ConfigFile[]): ConfigFile[] {
  const seen = new Set<string>();
  return files.filter((f) => {
    if (seen.has(f.name)) return false;
    seen.add(f.name);
    return true;
  });
}
