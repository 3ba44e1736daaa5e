// The exposure check against real HTTPS servers made with the fleet's own TLS material: one that asks for the fleet's
// client certificate passes; a plaintext one and one that lets anonymous clients in fail, each named with its address.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ExposedHttp, FleetEndpoints } from "../endpoints.ts";
import { anonymousClient, fleetClient } from "../net/https.ts";
import { httpClientFiles, loadOrCreateFleetTls } from "../state/tls.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { checkExposure } from "./checks/exposure.ts";
import { Probe } from "./probe.ts";

const topology = parseFleet(DEFAULT_FLEET, "test");
const servers: (http.Server | https.Server)[] = [];
let stateDir = "";
const urls: Record<"mutual" | "anonymousTls" | "plain" | "remoteWrite", string> = {
  mutual: "",
  anonymousTls: "",
  plain: "",
  remoteWrite: "",
};
let grpcServerName = "";

/** As receive's write handler: an empty write (the one byte 0) to its path is taken, anything else is not. */
function remoteWrite(req: http.IncomingMessage, res: http.ServerResponse) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const empty = Buffer.concat(chunks).equals(Buffer.from([0]));
    const ok =
      req.method === "POST" && req.url === "/api/v1/receive" && empty && req.headers["thanos-tenant"];
    res.writeHead(ok ? 200 : 400).end(ok ? "" : "snappy decode error\n");
  });
}

function answer(_req: http.IncomingMessage, res: http.ServerResponse) {
  res.writeHead(200).end("Healthy.\n");
}

async function listen(server: http.Server | https.Server, scheme: string): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "fleet-exposure-"));
  const { http: tls, grpc } = await loadOrCreateFleetTls(stateDir);
  grpcServerName = grpc.serverName;
  // Receive's remote write: mutual TLS with the gRPC server certificate, the same fleet CA.
  urls.remoteWrite = await listen(
    https.createServer(
      { cert: grpc.cert, key: grpc.key, ca: grpc.ca, requestCert: true, rejectUnauthorized: true },
      remoteWrite,
    ),
    "https",
  );
  const serverTls = { cert: tls.cert, key: tls.key, ca: tls.ca };
  // As exporter-toolkit's RequireAndVerifyClientCert: no certificate from the fleet CA, no answer.
  urls.mutual = await listen(
    https.createServer({ ...serverTls, requestCert: true, rejectUnauthorized: true }, answer),
    "https",
  );
  urls.anonymousTls = await listen(https.createServer(serverTls, answer), "https");
  urls.plain = await listen(http.createServer(answer), "http");
});

after(async () => {
  for (const s of servers) s.close();
  await rm(stateDir, { recursive: true, force: true });
});

function run(exposed: ExposedHttp[]) {
  const files = httpClientFiles(stateDir);
  const endpoints: FleetEndpoints = {
    runtime: "local",
    targets: [],
    queryFrontend: exposed[0]?.url ?? "",
    objectStore: { url: "http://127.0.0.1:1", bucket: "b", accessKey: "k", secretKey: "s" },
    httpTls: files,
    exposedHttp: exposed,
  };
  const probe = new Probe(topology, endpoints, fleetClient(5000, files), () => new Date());
  probe.anonymous = anonymousClient(5000, files);
  return checkExposure(probe);
}

const port = (name: string, url: string, tls: boolean): ExposedHttp => ({
  cluster: "mgmt",
  name,
  component: "query-frontend",
  url,
  tls,
});

describe("exposure", () => {
  test("a port that asks for the fleet's client certificate refuses anonymous and plaintext and lets the fleet in", async () => {
    const r = await run([
      port("thanos-query-frontend/http", urls.mutual, true),
      port("thanos-query/http", urls.mutual, true),
    ]);
    assert.equal(r?.status, "pass", r?.detail);
    assert.equal(
      r?.detail,
      "2 endpoints: 2 refuse anonymous and plaintext, 2 answer the fleet's client certificate",
    );
  });

  test("with tls.http: false every open port is named, as anonymous and as plaintext", async () => {
    const r = await run([
      port("thanos-query-frontend/http", urls.mutual, true),
      port("prometheus-0/web", urls.plain, false),
      port("alertmanager/http", urls.anonymousTls, true),
    ]);
    assert.equal(r?.status, "fail");
    const plainHost = new URL(urls.plain).host;
    const anonHost = new URL(urls.anonymousTls).host;
    assert.match(
      r?.detail ?? "",
      new RegExp(
        `^2 endpoints answer anonymous requests: mgmt prometheus-0/web \\(${plainHost}\\), mgmt alertmanager/http \\(${anonHost}\\); ` +
          `1 endpoint answers plaintext HTTP: mgmt prometheus-0/web \\(${plainHost}\\) \\(3 endpoints outside their cluster\\)$`,
      ),
    );
    assert.match(r?.fix ?? "", /remove 'http: false'/);
  });

  test("a port that is down is not counted as refusing: the fleet's own request fails and says so", async () => {
    const down = await listen(http.createServer(answer), "https");
    await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));
    const r = await run([port("thanos-query/http", down, true)]);
    assert.equal(r?.status, "fail");
    assert.match(
      r?.detail ?? "",
      /1 endpoint does not answer the fleet's client certificate: .*connection refused/,
    );
  });

  test("a port with its own TLS is asked with its declared request and server name, and counted", async () => {
    const request = {
      method: "POST" as const,
      path: "/api/v1/receive",
      headers: { "THANOS-TENANT": "thanos-fleet-verify", "content-encoding": "snappy" },
      body: "\u0000",
      serverName: grpcServerName,
    };
    const writes = { ...port("thanos-receive-router/remote-write", urls.remoteWrite, true), request };
    const r = await run([port("thanos-query/http", urls.mutual, true), writes]);
    assert.equal(r?.status, "pass", r?.detail);
    assert.equal(
      r?.detail,
      "2 endpoints: 2 refuse anonymous and plaintext, 2 answer the fleet's client certificate " +
        "(mgmt thanos-receive-router/remote-write with an empty write)",
    );
    // Asked as a web port (GET /-/healthy, the HTTP server name), it would not let the fleet in.
    const { request: _, ...asWeb } = writes;
    const wrong = await run([asWeb]);
    assert.equal(wrong?.status, "fail");
    assert.match(wrong?.detail ?? "", /1 endpoint does not answer the fleet's client certificate/);
  });

  test("no exposed ports reported (a recorded fleet), no check", async () => {
    assert.equal(await run([]), undefined);
  });
});
