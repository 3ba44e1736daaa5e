// Each local server's own certificate in the plan: which processes get one, for which addresses, where it lands,
// and what the fleet's clients then verify (the address they dial, no shared name).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../render/testdata/fixtures.ts";
import type { Credentials } from "../../state/credentials.ts";
import type { Leaf } from "../../state/server-certs.ts";
import type { GrpcTls, HttpTls, S3Tls } from "../../state/tls.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { loadLocalPlan, rotateLocalCerts } from "./certs.ts";
import { planLocalFleet, serverLeafRequests } from "./processes.ts";
import { specHash } from "./supervisor.ts";

const creds: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};
const options = { subnet: "127.77", blockDuration: "1m", bucketSyncInterval: "5s" };
const topology = parseFleet(DEFAULT_FLEET, "test");
const plan = (leaves?: Map<string, Leaf>) =>
  planLocalFleet(topology, creds, "/state", options, FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS, leaves);
const shared = plan();
const requests = serverLeafRequests(shared, { grpc: FAKE_GRPC_TLS, http: FAKE_HTTP_TLS });
const leafOf = (name: string, n = 1): Leaf => ({ cert: `CERT ${name} ${n}`, key: `KEY ${name}` });
const own = plan(new Map(requests.map((r) => [r.name, leafOf(r.name)])));
/** The plan with each server's own leaf, as `own`, after the given certificates were renewed (the rest unchanged). */
const renewedPlan = (tls: { grpc?: GrpcTls; http?: HttpTls; s3?: S3Tls }) =>
  planLocalFleet(
    topology,
    creds,
    "/state",
    options,
    tls.grpc ?? FAKE_GRPC_TLS,
    tls.http ?? FAKE_HTTP_TLS,
    tls.s3 ?? FAKE_S3_TLS,
    new Map(requests.map((r) => [r.name, leafOf(r.name)])),
  );

test("every server of the fleet gets a certificate for the addresses its clients dial, and nothing else", () => {
  const byName = new Map(requests.map((r) => [r.name, r.sans]));
  const sidecar = shared.processes.find(
    (p) => p.id === "biz1/prometheus-kube-prometheus-stack-prometheus-0/thanos-sidecar",
  );
  assert.ok(sidecar);
  // Its own address, and its cluster's node (its StoreAPI and HTTP NodePorts pass through HAProxy untouched).
  const sans = byName.get(sidecar.id) ?? [];
  assert.ok(sans.includes(`IP:${sidecar.ip}`), sans.join(" "));
  assert.ok(sans.includes(`IP:${shared.network.nodeIp("biz1")}`), sans.join(" "));
  // Query is dialled by query-frontend at its Service's address.
  const query = shared.processes.find((p) => p.id === "mgmt/thanos-query-0/thanos-query");
  assert.ok(query);
  assert.ok(byName.get(query.id)?.includes(`IP:${shared.network.serviceIp("mgmt", "thanos-query")}`));
  for (const sans of byName.values()) {
    assert.ok(
      sans.every((s) => /^IP:127\.77\.\d+\.\d+$/.test(s)),
      `no localhost nor a shared name: ${sans.join(" ")}`,
    );
  }
  // No load balancer, demo workload or weed among them: they present no fleet server certificate (weed's S3 API has
  // the storage cluster's own). The Prometheus that serves SeaweedFS's metrics does.
  assert.ok(
    !requests.some((r) => /haproxy|demo|\/seaweedfs$/.test(r.name)),
    requests.map((r) => r.name).join(),
  );
  assert.ok(requests.some((r) => r.name === "minio/seaweedfs-0/metrics-front"));
});

test("with the leaves, each server holds its own certificate and key where the shared ones were, and nothing shared", () => {
  for (const p of own.processes) {
    for (const f of p.files) {
      assert.ok(
        !f.content.includes(FAKE_GRPC_TLS.cert) && !f.content.includes(FAKE_HTTP_TLS.cert),
        `${f.path}`,
      );
      assert.ok(
        !f.content.includes(FAKE_GRPC_TLS.key) && !f.content.includes(FAKE_HTTP_TLS.key),
        `${f.path}`,
      );
    }
  }
  const query = own.processes.find((p) => p.id === "mgmt/thanos-query-0/thanos-query");
  const certs = query?.files.filter((f) => f.renewable) ?? [];
  const clients = [FAKE_GRPC_TLS.clientCert, FAKE_HTTP_TLS.clientCert];
  assert.ok(certs.some((f) => f.content === "CERT mgmt/thanos-query-0/thanos-query 1"));
  assert.ok(
    certs.every(
      (f) => f.content === "CERT mgmt/thanos-query-0/thanos-query 1" || clients.includes(f.content),
    ),
  );
  assert.ok(query?.files.some((f) => f.content === "KEY mgmt/thanos-query-0/thanos-query"));
});

test("clients verify the address they dial: no server name pinned in any config, HAProxy checks the chain", () => {
  const all = own.processes.flatMap((p) => [...p.args, ...p.files.map((f) => f.content)]).join("\n");
  assert.doesNotMatch(all, /server_name: thanos-fleet-(grpc|http)|client-server-name|check-sni/);
  assert.match(all, /server_name: thanos-fleet-s3/, "S3 keeps its own name (open work)");
  assert.equal(own.httpTls?.serverName, "");
  // Without the leaves (the shared certificates), the names stay pinned as before.
  const before = shared.processes.flatMap((p) => p.files.map((f) => f.content)).join("\n");
  assert.match(before, /server_name: thanos-fleet-grpc/);
});

test("a renewed certificate is no part of a process's spec: renewal restarts nothing, a changed key does", () => {
  const renewed = plan(new Map(requests.map((r) => [r.name, leafOf(r.name, 2)])));
  for (const [i, p] of own.processes.entries()) {
    const q = renewed.processes[i];
    assert.ok(q);
    assert.equal(specHash(p, "/bin/x"), specHash(q, "/bin/x"), p.id);
  }
  const rekeyed = plan(new Map(requests.map((r) => [r.name, { ...leafOf(r.name), key: "OTHER KEY" }])));
  const q = rekeyed.processes.find((p) => p.id === "mgmt/thanos-query-0/thanos-query");
  const p = own.processes.find((x) => x.id === "mgmt/thanos-query-0/thanos-query");
  assert.ok(p && q);
  assert.notEqual(specHash(p, "/bin/x"), specHash(q, "/bin/x"));
});

test("certs rotate on the local runtime refuses a cert-manager Issuer before touching the state dir (exit 2)", async () => {
  const topology = parseFleet(
    { ...DEFAULT_FLEET, tls: { issuer: { name: "fleet-ca", ca: "issuer-ca.pem" } } },
    "/fleets/fleet.yaml",
  );
  await assert.rejects(
    rotateLocalCerts(topology, "/nonexistent/state"),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /tls\.issuer: a cert-manager Issuer needs Kubernetes/);
      return true;
    },
  );
});

test("client certificates: copies re-read per handshake are renewable, Thanos's HTTP clients' are in their spec", () => {
  const renewed = renewedPlan({
    grpc: { ...FAKE_GRPC_TLS, clientCert: `${FAKE_GRPC_TLS.clientCert} renewed` },
    http: { ...FAKE_HTTP_TLS, clientCert: `${FAKE_HTTP_TLS.clientCert} renewed` },
  });
  const copies = own.processes.flatMap((p) =>
    p.files
      .filter(
        (f) => f.content.includes(FAKE_GRPC_TLS.clientCert) || f.content.includes(FAKE_HTTP_TLS.clientCert),
      )
      .map((f) => ({ p, f })),
  );
  assert.ok(copies.length > 5, `${copies.length} copies`);
  for (const { p, f } of copies) {
    // gRPC clients (Thanos's clientTLSManager), Prometheus, Alertmanager, HAProxy: in place. Thanos's HTTP clients
    // (query-frontend's downstream, the rulers, the sidecars → Prometheus) cannot re-read theirs: a restart.
    const thanosHttp = p.binary === "thanos" && f.content === FAKE_HTTP_TLS.clientCert;
    assert.equal(f.renewable === true, !thanosHttp, f.path);
  }
  const haproxy = own.processes.filter((p) => p.component === "load-balancer");
  assert.ok(haproxy.length > 0);
  for (const p of haproxy) {
    const pem = p.files.find((f) => f.path.endsWith("check-client.pem"));
    assert.ok(pem?.renewable && pem.haproxySocket?.endsWith("haproxy.sock"), p.id);
  }
  const restarted = new Set<string>();
  for (const [i, p] of own.processes.entries()) {
    const q = renewed.processes[i];
    assert.ok(q);
    if (specHash(p, "/bin/x") !== specHash(q, "/bin/x")) restarted.add(p.id);
  }
  const thanosHttpClients = own.processes
    .filter((p) => p.binary === "thanos" && p.files.some((f) => f.content === FAKE_HTTP_TLS.clientCert))
    .map((p) => p.id);
  assert.deepEqual([...restarted].sort(), thanosHttpClients.sort());
  assert.ok(
    thanosHttpClients.some((id) => id.includes("thanos-query-frontend")),
    thanosHttpClients.join(),
  );
  assert.ok(!thanosHttpClients.some((id) => id.includes("/thanos-query-0/")), "query's gRPC client re-reads");
});

test("the storage cluster's certificates are renewable copies in SeaweedFS's process: renewing them restarts nothing", () => {
  const weed = own.processes.find((p) => p.binary === "weed");
  assert.ok(weed);
  const held = weed.files.filter((f) => [FAKE_S3_TLS.cert, FAKE_S3_TLS.internalCert].includes(f.content));
  assert.equal(held.length, 2);
  for (const f of held) assert.equal(f.renewable, true, f.path);
  assert.equal(weed.env?.WEED_TLS_CERT_REFRESH_INTERVAL, "10s");
  const renewed = renewedPlan({
    s3: {
      ...FAKE_S3_TLS,
      cert: `${FAKE_S3_TLS.cert} renewed`,
      internalCert: `${FAKE_S3_TLS.internalCert} renewed`,
    },
  });
  const changed = own.processes.filter((p, i) => {
    const q = renewed.processes[i];
    return q === undefined || specHash(p, "/bin/x") !== specHash(q, "/bin/x");
  });
  assert.deepEqual(
    changed.map((p) => p.id),
    [],
  );
});

test("with S3 over TLS alone, the storage cluster's certificates are still renewed, from the fleet CA", async () => {
  const s3Only = parseFleet(
    { ...DEFAULT_FLEET, tls: { grpc: false, http: false, s3: true } },
    "/fleets/fleet.yaml",
  );
  const stateDir = await mkdtemp(join(tmpdir(), "local-s3-only-"));
  try {
    const first = await loadLocalPlan(s3Only, stateDir, options);
    await first.save();
    await first.own.save();
    assert.deepEqual(first.storageRenewals, []);
    const rotated = await loadLocalPlan(s3Only, stateDir, options, { renewAll: true });
    assert.deepEqual(
      rotated.storageRenewals.map((r) => r.name),
      ["s3-server", "seaweedfs"],
    );
    await rotated.own.save();
    const ca = new X509Certificate(await readFile(join(stateDir, "tls", "ca.crt"), "utf8"));
    const s3 = new X509Certificate(await readFile(join(stateDir, "tls", "s3-server.crt"), "utf8"));
    assert.equal(s3.serialNumber, new X509Certificate(rotated.storageRenewals[0]?.after ?? "").serialNumber);
    assert.ok(s3.verify(ca.publicKey));
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
