// The `exposure` check: every HTTP port that leaves its cluster refuses an anonymous request and a plaintext one, and
// answers a request with the fleet's client certificate. With `tls.http: false` it fails, naming each open port.
// Receive's remote-write endpoint has a TLS of its own (the gRPC material): it is asked with the request its
// component declares (an empty write), so "answers" means the write handler took it.
import type { ExposedHttp } from "../../endpoints.ts";
import { HttpError, type HttpRequest, type HttpResponse } from "../../net/http.ts";
import type { Probe } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, plural, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const EXPOSURE: CheckInfo = {
  id: "exposure",
  title: "HTTP ports outside their cluster need the fleet's certificate",
};

/** The path asked on every port: each server has it (Thanos, Prometheus, Alertmanager). */
const PATH = "/-/healthy";

type Outcome = { answered: HttpResponse } | { error: unknown };

async function attempt(send: () => Promise<HttpResponse>): Promise<Outcome> {
  try {
    return { answered: await send() };
  } catch (error) {
    return { error };
  }
}

/** No connection at all (down, not listening): neither refused nor let in, the port cannot be judged. */
function unreachable(o: Outcome): boolean {
  return (
    "error" in o &&
    o.error instanceof HttpError &&
    ["refused", "timeout", "unreachable"].includes(o.error.kind)
  );
}

/**
 * Refused: the TLS handshake failed (no client certificate), the connection was closed, or the server said 401/403.
 * For a plaintext request to a TLS server, Go answers 400 ("Client sent an HTTP request to an HTTPS server").
 */
function refused(o: Outcome, plaintext: boolean): boolean {
  if ("error" in o) return !unreachable(o);
  const s = o.answered.status;
  return s === 401 || s === 403 || (plaintext && s === 400);
}

function verb(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function where(e: ExposedHttp): string {
  return `${e.cluster} ${e.name} (${new URL(e.url).host})`;
}

export async function checkExposure(probe: Probe): Promise<CheckResult | undefined> {
  const exposed = probe.endpoints.exposedHttp;
  if (!exposed || exposed.length === 0) return undefined;
  const results = await Promise.all(
    exposed.map(async (e) => {
      const url = new URL(e.request?.path ?? PATH, e.url);
      const plainUrl = new URL(url);
      plainUrl.protocol = "http:";
      const req: HttpRequest = e.request
        ? {
            method: e.request.method,
            headers: e.request.headers,
            body: e.request.body,
            ...(e.request.serverName ? { servername: e.request.serverName } : {}),
          }
        : {};
      const [anonymous, plaintext, fleet] = await Promise.all([
        attempt(() => probe.anonymous(url.toString(), req)),
        attempt(() => probe.anonymous(plainUrl.toString(), req)),
        attempt(() => probe.http(url.toString(), req)),
      ]);
      return { e, anonymous, plaintext, fleet };
    }),
  );
  const problems: CheckProblem[] = [];
  const open = results.filter((r) => !refused(r.anonymous, false) && !unreachable(r.anonymous));
  const plain = results.filter((r) => !refused(r.plaintext, true) && !unreachable(r.plaintext));
  if (open.length > 0) {
    problems.push({
      what: `${plural(open.length, "endpoint")} ${verb(open.length, "answers", "answer")} anonymous requests: ${open.map((r) => where(r.e)).join(", ")}`,
      cause: open.every((r) => !r.e.tls)
        ? "the fleet runs with tls.http: false (the guide's layout): anyone who reaches a NodePort is let in, /-/quit and silences included"
        : "a server runs without its web config (started by hand, or an older fleet)",
      fix: "remove 'http: false' under tls in fleet.yaml and run `thanos-fleet up`",
    });
  }
  if (plain.length > 0) {
    problems.push({
      what: `${plural(plain.length, "endpoint")} ${verb(plain.length, "answers", "answer")} plaintext HTTP: ${plain.map((r) => where(r.e)).join(", ")}`,
      cause: "their traffic, queries and answers, crosses the network unencrypted",
      fix: "remove 'http: false' under tls in fleet.yaml and run `thanos-fleet up`",
    });
  }
  // A declared request is answered by its handler with any 2xx (remote write: 200 or 204).
  const letIn = (r: (typeof results)[number]) =>
    "answered" in r.fleet &&
    (r.e.request ? Math.floor(r.fleet.answered.status / 100) === 2 : r.fleet.answered.status === 200);
  const shut = results.filter((r) => !letIn(r));
  if (shut.length > 0) {
    problems.push({
      what: `${plural(shut.length, "endpoint")} ${verb(shut.length, "does", "do")} not answer the fleet's client certificate: ${shut
        .map(
          (r) =>
            `${where(r.e)}: ${"error" in r.fleet ? reason(r.fleet.error) : `HTTP ${r.fleet.answered.status}`}`,
        )
        .join(", ")}`,
      cause: "the process is down, or its certificate is not the fleet's (tls dir replaced since it started)",
      fix: "run `thanos-fleet status` to see which process is down, then `thanos-fleet up`",
    });
  }
  const n = results.length;
  if (problems.length > 0) return fail(EXPOSURE, problems, `${plural(n, "endpoint")} outside their cluster`);
  const own = results.filter((r) => r.e.request).map((r) => `${r.e.cluster} ${r.e.name}`);
  return pass(
    EXPOSURE,
    `${plural(n, "endpoint")}: ${n} refuse anonymous and plaintext, ${n} answer the fleet's client certificate` +
      (own.length > 0 ? ` (${own.join(", ")} with an empty write)` : ""),
  );
}
