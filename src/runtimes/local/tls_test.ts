// With `tls: { grpc: true }` the real fleet answers across clusters over mutual TLS, and a sidecar refuses a
// plaintext gRPC client as well as a TLS client without a fleet certificate.
import assert from "node:assert/strict";
import type { X509Certificate } from "node:crypto";
import { connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { testFleet } from "../../../testing/local/fleet.ts";
import type { GrpcTls, SpecContext } from "../../components/context.ts";
import { queryEndpoints } from "../../components/fleet.ts";
import { anonymousClient, fleetClient as httpClientOf } from "../../net/https.ts";
import { loadOrCreateGrpcTls } from "../../state/tls.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { checkExposure } from "../../verify/checks/exposure.ts";
import { Probe } from "../../verify/probe.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.74";
/** queryEndpoints only counts addresses here. */
const shapeContext = {
  addresses: { service: () => "", pod: () => "", exposed: () => "" },
} as unknown as SpecContext;

const topology = parseFleet({ ...DEFAULT_FLEET, tls: { grpc: true } }, "tls test");
const fleet = await testFleet(topology, { subnet: SUBNET, name: "tls" });
const { runtime, stateDir, upOptions } = fleet;

/**
 * Opens an HTTP/2 connection (what gRPC runs on) and reports whether the server answered with its settings:
 * "ok", or the error that ended the attempt.
 */
function h2Handshake(
  url: string,
  tls?: { ca: string; cert?: string; key?: string; servername?: string },
  onCert?: (cert: X509Certificate) => void,
) {
  return new Promise<string>((resolve) => {
    const session = connect(url, tls ? { ...tls, ALPNProtocols: ["h2"] } : {});
    const done = (result: string) => {
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    session.on("connect", () => {
      const socket = session.socket as TLSSocket;
      const raw = socket.getPeerX509Certificate?.();
      if (raw && onCert) onCert(raw);
    });
    const timer = setTimeout(() => done("timeout"), 5000);
    session.on("remoteSettings", () => done("ok"));
    session.on("error", (e) => done(`error: ${e.message}`));
    session.on("close", () => done("closed"));
  });
}

test(
  "a fleet with tls.grpc answers through query over mutual TLS and refuses plaintext",
  { timeout: 240_000 },
  async () => {
    try {
      await runtime.up(topology, upOptions);
      const endpoints = await runtime.endpoints(topology, { stateDir });
      const tls: GrpcTls = await loadOrCreateGrpcTls(stateDir);
      // query-frontend and query serve HTTPS with the fleet's client certificates (tls.http, the default).
      const http = httpClientOf(10_000, endpoints.httpTls);

      // Query reaches each workload cluster only through its sidecars: an answer per cluster proves the TLS path.
      const want = topology.workloads.map((w) => w.name).sort();
      let got: string[] = [];
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const url = `${endpoints.queryFrontend}/api/v1/query?${new URLSearchParams({ query: "count by (cluster) (fleet_demo_requests_total)" })}`;
        const r = await http(url).catch(() => undefined);
        if (r && r.status === 200) {
          const body = JSON.parse(r.body) as { data: { result: { metric: { cluster: string } }[] } };
          got = body.data.result.map((s) => s.metric.cluster).sort();
          if (got.join() === want.join()) break;
        }
        await sleep(1000);
      }
      assert.deepEqual(got, want, "query-frontend answers the demo series of every workload cluster");

      // Store gateway and rulers serve TLS too: query holds every StoreAPI endpoint, none with an error.
      const query = endpoints.targets.find((t) => t.component === "query")?.url;
      assert.ok(query, "the endpoints report a query URL");
      const wantStores = queryEndpoints(topology, shapeContext).length;
      let healthy: string[] = [];
      for (const until = Date.now() + 60_000; Date.now() < until; await sleep(1000)) {
        const r = await http(`${query}/api/v1/stores`);
        const body = JSON.parse(r.body) as {
          data: Record<string, { name: string; lastError: string | null }[]>;
        };
        const all = Object.values(body.data).flat();
        healthy = all.filter((e) => !e.lastError).map((e) => e.name);
        if (healthy.length === wantStores && all.length === wantStores) break;
      }
      assert.equal(
        healthy.length,
        wantStores,
        `query reaches every StoreAPI over TLS: ${healthy.join(", ")}`,
      );

      const sidecar = endpoints.targets.find((t) => t.component === "sidecar")?.grpc;
      assert.ok(sidecar, "the endpoints report a sidecar's gRPC address");
      // Each server presents its own certificate, for the addresses it is dialled at: the client verifies the
      // address it dials (the sidecar's NodePort on its cluster's node), not a name shared by every server.
      const fleetClient = { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey };
      let served: X509Certificate | undefined;
      assert.equal(
        await h2Handshake(`https://${sidecar}`, fleetClient, (c) => {
          served = c;
        }),
        "ok",
        "a fleet client gets through, verifying the address it dials",
      );
      const nodeIp = sidecar.slice(0, sidecar.lastIndexOf(":"));
      assert.match(
        served?.subjectAltName ?? "",
        new RegExp(`IP Address:${nodeIp.replaceAll(".", "\\.")}\\b`),
      );
      assert.doesNotMatch(served?.subjectAltName ?? "", /thanos-fleet-grpc/, "not the shared certificate");
      assert.notEqual(
        await h2Handshake(`https://${sidecar}`, { ...fleetClient, servername: tls.serverName }),
        "ok",
        "a client verifying the name once shared by every server is refused: that name is in no server's certificate",
      );
      assert.notEqual(await h2Handshake(`http://${sidecar}`), "ok", "a plaintext client is refused");
      const noCert = { ca: tls.ca };
      assert.notEqual(
        await h2Handshake(`https://${sidecar}`, noCert),
        "ok",
        "a client without a certificate is refused",
      );

      // tls.http: every HTTP port outside its cluster refuses anonymous and plaintext requests and answers the
      // fleet's client certificate (verify's exposure check, on the real servers); an anonymous POST /-/quit to a
      // Prometheus NodePort never reaches Prometheus, which still answers.
      const probe = new Probe(topology, endpoints, http, () => new Date());
      probe.anonymous = anonymousClient(10_000, endpoints.httpTls);
      const exposure = await checkExposure(probe);
      assert.equal(exposure?.status, "pass", exposure?.detail);
      // 16 with the storage cluster's metrics: weed serves them plain, so a Prometheus in its pod serves them.
      assert.match(exposure?.detail ?? "", /^16 endpoints: 16 refuse anonymous and plaintext/);
      const storageMetrics = endpoints.exposedHttp?.find((e) => e.component === "storage-metrics");
      assert.ok(storageMetrics, "the storage cluster's metrics NodePort is reported");
      // Federated through it, SeaweedFS's own metrics reach the global view from every workload cluster.
      let clusters: string[] = [];
      for (const until = Date.now() + 90_000; Date.now() < until; await sleep(2000)) {
        const own = '{job="seaweedfs-metrics", __name__!="up", __name__!~"scrape_.*"}';
        const q = new URLSearchParams({ query: `count by (cluster) (${own})` });
        const r = await http(`${endpoints.queryFrontend}/api/v1/query?${q}`).catch(() => undefined);
        if (r?.status !== 200) continue;
        const body = JSON.parse(r.body) as { data: { result: { metric: { cluster: string } }[] } };
        clusters = body.data.result.map((x) => x.metric.cluster).sort();
        if (clusters.join() === want.join()) break;
      }
      assert.deepEqual(clusters, want, "SeaweedFS's metrics, federated, are in the global view");
      const prometheus = endpoints.exposedHttp?.find((e) => e.component === "prometheus");
      assert.ok(prometheus, "a Prometheus NodePort is reported");
      const quit = await new Promise<string>((resolve) => {
        const req = httpsRequest(new URL("/-/quit", prometheus.url), { method: "POST", ca: tls.ca }, (res) =>
          resolve(`HTTP ${res.statusCode}`),
        );
        req.on("error", (e) => resolve(`error: ${e.message}`));
        req.end();
      });
      assert.match(quit, /^error: .*certificate required/, "anonymous /-/quit is refused in the handshake");
      await sleep(1000);
      assert.equal((await http(new URL("/-/healthy", prometheus.url).toString())).status, 200);
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
