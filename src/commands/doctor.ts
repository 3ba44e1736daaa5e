// `thanos-fleet doctor`: checks any Thanos for the known misconfigurations; reads, never writes. Secrets come from
// files, never from the command line.
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { runDoctor } from "../doctor/doctor.ts";
import type { KubeReader } from "../doctor/kube.ts";
import { s3AccessFrom } from "../doctor/observe.ts";
import { formatDoctorReport } from "../doctor/report.ts";
import { parseDuration } from "../duration.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { fetchClient, type HttpClient, HttpError } from "../net/http.ts";
import { fleetClient, nodeClient, readOnlyClient, type TlsMaterial } from "../net/https.ts";
import { type S3Access, s3HttpClient } from "../net/s3.ts";
import { ApiError } from "../probes/thanos.ts";
import { createKubeApi } from "../runtimes/kube/index.ts";
import type { CommandIO } from "./verify.ts";

export interface DoctorOptions {
  query: string;
  bucket?: string;
  metrics?: string[];
  context?: string[];
  json?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  basicAuthFile?: string;
  bearerTokenFile?: string;
  timeoutMs?: number;
  /** How long query's endpoints are watched for flapping, e.g. `5s` (the CLI's default); `0s` or none reads them once. */
  watch?: string;
}

/** The fleet's components doctor reads: Thanos's and Prometheus (not the object store, Alertmanager or the demo). */
const READ_KINDS = new Set<string>([
  "sidecar",
  "query",
  "query-frontend",
  "store",
  "compact",
  "rule",
  "bucket-web",
  "prometheus",
]);

/** Doctor could not run: exit 2 with this message. */
export class DoctorUsageError extends Error {
  readonly exitCode = 2;
}

async function readSecret(file: string, flag: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (cause) {
    throw new DoctorUsageError(`${flag} ${file} cannot be read: ${(cause as Error).message}`, { cause });
  }
}

function checkUrl(url: string, flag: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    return url;
  } catch {
    throw new DoctorUsageError(
      `${flag} ${url} is not an http(s) URL: give one such as http://thanos-query:9090`,
    );
  }
}

/**
 * The client doctor reads through: TLS material and credentials from files, GETs only. Given none, a fleet thanos-fleet
 * made (`--state-dir`) is read with its own client certificate.
 */
export async function doctorClient(opts: DoctorOptions, fleet?: FleetEndpoints): Promise<HttpClient> {
  if (opts.basicAuthFile && opts.bearerTokenFile) {
    throw new DoctorUsageError("--basic-auth-file and --bearer-token-file exclude each other: give one");
  }
  if (Boolean(opts.certFile) !== Boolean(opts.keyFile)) {
    throw new DoctorUsageError("--cert-file and --key-file go together: give both or neither");
  }
  const tls: TlsMaterial = {};
  if (opts.caFile) tls.ca = await readSecret(opts.caFile, "--ca-file");
  if (opts.certFile) tls.cert = await readSecret(opts.certFile, "--cert-file");
  if (opts.keyFile) tls.key = await readSecret(opts.keyFile, "--key-file");
  let authorization: string | undefined;
  if (opts.basicAuthFile) {
    const pair = await readSecret(opts.basicAuthFile, "--basic-auth-file");
    if (!pair.includes(":")) {
      throw new DoctorUsageError(`--basic-auth-file ${opts.basicAuthFile} must hold one line user:password`);
    }
    authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
  }
  if (opts.bearerTokenFile) {
    authorization = `Bearer ${await readSecret(opts.bearerTokenFile, "--bearer-token-file")}`;
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const plain = !opts.caFile && !opts.certFile && !authorization;
  if (plain && fleet?.httpTls) return readOnlyClient(fleetClient(timeoutMs, fleet.httpTls));
  return readOnlyClient(
    plain
      ? fetchClient(timeoutMs)
      : nodeClient({ timeoutMs, tls, ...(authorization ? { authorization } : {}) }),
  );
}

async function bucketAccess(file: string): Promise<S3Access> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new DoctorUsageError(`--bucket ${file} cannot be read as YAML: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    return s3AccessFrom(doc, file);
  } catch (cause) {
    throw new DoctorUsageError((cause as Error).message, { cause });
  }
}

/** Exit 0 when nothing is above warning, 1 when errors are found, 2 when doctor could not run. */
export async function doctorCommand(
  opts: DoctorOptions,
  deps: {
    io?: CommandIO;
    fleet?: () => Promise<FleetEndpoints>;
    /** The API of one kube context (default: from KUBECONFIG or ~/.kube/config). */
    kubeApi?: (context: string) => KubeReader;
  } = {},
): Promise<number> {
  const io = deps.io ?? process;
  try {
    const query = checkUrl(opts.query, "--query");
    const metrics = (opts.metrics ?? []).map((m) => checkUrl(m, "--metrics"));
    let storesWindowMs = 0;
    try {
      storesWindowMs = opts.watch ? parseDuration(opts.watch, "--watch") : 0;
    } catch (cause) {
      throw new DoctorUsageError((cause as Error).message, { cause });
    }
    // A thanos-fleet fleet: its own client certificate, bucket key and the components it runs, unless given.
    const fleet = deps.fleet ? await deps.fleet() : undefined;
    const http = await doctorClient(opts, fleet);
    const kube = (opts.context ?? []).map((context) => {
      try {
        const api = (deps.kubeApi ?? ((c: string) => createKubeApi({ context: c })))(context);
        // Only list: doctor changes nothing on the API server.
        return { context: api.context, list: api.list.bind(api) } satisfies KubeReader;
      } catch (cause) {
        throw new DoctorUsageError(`--context ${context}: ${(cause as Error).message}`, { cause });
      }
    });
    let bucket: (S3Access & { ca?: string; serverName?: string }) | undefined = opts.bucket
      ? await bucketAccess(opts.bucket)
      : undefined;
    if (fleet) {
      bucket ??= fleet.objectStore;
      if (metrics.length === 0) {
        metrics.push(...fleet.targets.filter((t) => READ_KINDS.has(t.component)).map((t) => t.url));
      }
    }
    const report = await runDoctor(http, {
      query,
      metrics,
      storesWindowMs,
      ...(kube.length > 0 ? { kube } : {}),
      // The fleet's own bucket on the storage cluster's HTTPS is read with the fleet CA.
      ...(bucket ? { bucket: { ...bucket }, bucketHttp: readOnlyClient(s3HttpClient(bucket, 15_000)) } : {}),
    });
    io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
    return report.summary.error > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof DoctorUsageError) {
      io.stderr.write(`${error.message}\n`);
      return 2;
    }
    if (error instanceof HttpError || error instanceof ApiError) {
      io.stderr.write(
        `doctor could not read query at ${opts.query}: ${error.message}\n` +
          "give the HTTP address of a Thanos query or query-frontend that answers from here (--query), with --ca-file, --cert-file/--key-file or --basic-auth-file/--bearer-token-file if it needs them\n",
      );
      return 2;
    }
    throw error;
  }
}
