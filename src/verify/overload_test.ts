// Overloaded or down: a real HTTP server in place of query-frontend that refuses with 429 or 503, or is too slow
// to answer a query while its health check answers, or answers nothing in time; and a port nobody listens on.
// The `query` check must say which, and tell a person not to restart what runs.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { FleetEndpoints } from "../endpoints.ts";
import { fetchClient } from "../net/http.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { checkGaps } from "./checks/gaps.ts";
import { checkQuery } from "./checks/query.ts";
import { Probe } from "./probe.ts";
import type { CheckResult } from "./types.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
/** verify's deadline per request in this test: short, so that "slow" is quick to reach. */
const TIMEOUT_MS = 400;

type Behaviour = "429" | "503" | "slow" | "hung";

/** A server whose every answer is the behaviour asked for in the first path segment: /429/…, /slow/…. */
function start(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const [, behaviour, ...rest] = (req.url ?? "/").split("/");
    const path = `/${rest.join("/")}`;
    const answer = (status: number, body: string) => {
      if (!res.destroyed) res.writeHead(status, { "content-type": "text/plain" }).end(body);
    };
    if (behaviour === "429") return answer(429, "too many outstanding requests");
    if (behaviour === "503") return answer(503, "Service Unavailable");
    if (behaviour === "slow" && path === "/-/healthy") return answer(200, "OK");
    // slow (the query) and hung (everything): answer long after verify gave up.
    const timer = setTimeout(() => answer(200, "{}"), 10 * TIMEOUT_MS);
    res.on("close", () => clearTimeout(timer));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, base: `http://127.0.0.1:${port}` });
    });
  });
}

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function probeAt(queryFrontend: string): Probe {
  const endpoints: FleetEndpoints = {
    runtime: "kubernetes",
    targets: [],
    queryFrontend,
    objectStore: { url: "http://127.0.0.1:1", bucket: "thanos", accessKey: "a", secretKey: "s" },
  };
  return new Probe(topology, endpoints, fetchClient(TIMEOUT_MS), () => new Date());
}

describe("query-frontend overloaded or down, against a real HTTP server", () => {
  let server: Server;
  let base: string;
  before(async () => {
    ({ server, base } = await start());
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const overloaded = (r: CheckResult) => {
    assert.equal(r.status, "fail");
    assert.match(r.cause ?? "", /query-frontend (is overloaded|runs but refused)/, r.cause);
    assert.doesNotMatch(r.cause ?? "", /is down/, r.cause);
    assert.match(r.fix ?? "", /runs: do not restart it/, r.fix);
    assert.doesNotMatch(r.fix ?? "", /thanos-fleet up/, r.fix);
  };

  const cases: [Behaviour, RegExp][] = [
    ["429", /refused the request with HTTP 429/],
    ["503", /refused the request with HTTP 503: it is overloaded, or not ready yet/],
    ["slow", /answers its health check, but not this request in time/],
  ];
  for (const [behaviour, cause] of cases) {
    it(`${behaviour}: the query check says overloaded, not down`, async () => {
      const r = await checkQuery(probeAt(`${base}/${behaviour}`));
      overloaded(r);
      assert.match(r.cause ?? "", cause);
    });
  }

  it("429: the gaps check too", async () => {
    const r = await checkGaps(probeAt(`${base}/429`));
    overloaded(r);
  });

  it("hung (not even the health check answers): says it hangs or is overloaded, not down", async () => {
    const r = await checkQuery(probeAt(`${base}/hung`));
    assert.equal(r.status, "fail");
    assert.match(r.cause ?? "", /does not answer in time: it hangs, or it or the machine is overloaded/);
    assert.doesNotMatch(r.cause ?? "", /is down/);
  });

  it("a closed port: the query check says down, nothing listens", async () => {
    const r = await checkQuery(probeAt(await closedPort()));
    assert.equal(r.status, "fail");
    assert.match(r.detail, /connection refused/);
    assert.match(
      r.cause ?? "",
      /query-frontend is down: nothing listens at its address \(connection refused\)/,
    );
    assert.match(r.fix ?? "", /thanos-fleet status/);
    assert.doesNotMatch(r.fix ?? "", /do not restart/);
  });
});
