// certs rotate on Kubernetes: every server's own certificate renewed on its key, each Secret written in place, then
// every server pod asked until it presents the new one (fakes for the cluster and the handshakes).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createServer, type Server } from "node:tls";
import { kubeLeafRequests, renderFleet } from "../../render/render.ts";
import { defaultTopology, fakeRenderOptions, kindAddresses } from "../../render/testdata/fixtures.ts";
import type { KubeObject } from "../../render/types.ts";
import { listCertificates, serversDir, signLeaf } from "../../state/server-certs.ts";
import { loadFleetTls } from "../../state/tls.ts";
import {
  handOverRenewedCerts,
  loadKubeLeaves,
  objectsHolding,
  type PresentingPod,
  presentedSerial,
  presentingClientFiles,
  presentingPods,
  rotateInCluster,
  storagePresentingPods,
} from "./certs.ts";

/** A clock that moves only when slept on. */
function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

async function withFleet(
  fn: (x: {
    stateDir: string;
    load: (renewAll?: boolean) => ReturnType<typeof loadKubeLeaves>;
  }) => Promise<void>,
) {
  const stateDir = await mkdtemp(join(tmpdir(), "kube-certs-"));
  try {
    const tls = await loadFleetTls(stateDir);
    await tls.save();
    const topology = defaultTopology();
    const { serverLeaves: _fake, ...opts } = fakeRenderOptions(topology);
    const load = (renewAll = false) =>
      loadKubeLeaves(
        topology,
        stateDir,
        opts,
        kindAddresses(topology),
        { cert: tls.grpc.ca, key: tls.caKey },
        { renewAll },
      );
    await fn({ stateDir, load });
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

function render(leaves: Map<string, { cert: string; key: string }>) {
  const topology = defaultTopology();
  const { serverLeaves: _fake, ...opts } = fakeRenderOptions(topology);
  return renderFleet(topology, { ...opts, discovered: kindAddresses(topology), serverLeaves: leaves });
}

test("up's leaves: one per server workload, kept as kube@<cluster>.<workload> beside local ones, listed as Kubernetes'", async () => {
  await withFleet(async ({ stateDir, load }) => {
    const first = await load();
    await first.save();
    const files = (await readdir(serversDir(stateDir))).sort();
    assert.ok(files.includes("kube@mgmt.thanos-query.crt") && files.includes("kube@mgmt.thanos-query.key"));
    assert.equal(files.length, 2 * first.leaves.size);
    const again = await load();
    assert.equal(again.renewals.length, 0, "a second up renews nothing");
    const listed = await listCertificates(stateDir);
    const q = listed.find((c) => c.file === "servers/kube@mgmt.thanos-query.crt");
    assert.match(
      q?.usedBy ?? "",
      /^Kubernetes: mgmt\/thanos-query, every pod of it .*Secret thanos-query-tls/,
    );
    assert.ok(q?.sans.includes("IP:172.18.0.2"));
  });
});

test("rotate: each server's Secret written in place with its renewed certificate (same key), then every pod presents it", async () => {
  await withFleet(async ({ load }) => {
    const first = await load();
    await first.save();
    const rotated = await load(true);
    await rotated.save();
    assert.equal(rotated.renewals.length, first.leaves.size);
    for (const r of rotated.renewals) {
      assert.equal(r.why, "rotated");
      assert.equal(rotated.leaves.get(r.name)?.key, first.leaves.get(r.name)?.key, `${r.name} keeps its key`);
    }
    const fleet = render(rotated.leaves);
    const written: string[] = [];
    const secrets = new Map<string, KubeObject>();
    // Each pod presents the old certificate for two handshakes (the kubelet has not synced yet), then the new one.
    const asked = new Map<string, number>();
    const serial = (pem: string) => new X509Certificate(pem).serialNumber;
    const lines: string[] = [];
    const report = await rotateInCluster(fleet, rotated.renewals, {
      writeSecret: async (cluster, secret) => {
        written.push(`${cluster}/${secret.metadata.name}`);
        secrets.set(`${cluster}/${secret.metadata.name}`, secret);
      },
      presented: async (p: PresentingPod) => {
        const key = `${p.cluster}/${p.workload}/${p.index}`;
        const n = (asked.get(key) ?? 0) + 1;
        asked.set(key, n);
        const r = rotated.renewals.find((x) => x.name === p.leaf);
        return r && n > 2 ? serial(r.after) : r?.before ? serial(r.before) : undefined;
      },
      clock: fakeClock(),
      progress: (l) => lines.push(l),
      timeoutMs: 180_000,
      pollMs: 5_000,
    });
    assert.deepEqual(report.secrets, written);
    assert.ok(written.includes("mgmt/thanos-query-tls"));
    assert.ok(written.includes("biz1/prometheus-kube-prometheus-stack-prometheus-tls"));
    assert.ok(written.includes("biz1/alertmanager-tls"));
    const q = secrets.get("mgmt/thanos-query-tls") as KubeObject & { stringData: Record<string, string> };
    assert.equal(q.stringData["http-tls.crt"], rotated.leaves.get("kube@mgmt/thanos-query")?.cert);
    assert.ok(report.pods.length >= written.length, "every pod of every server is asked");
    assert.ok(
      report.pods.every((p) => p.presented && p.afterMs === 10_000),
      JSON.stringify(report.pods),
    );
    assert.match(
      lines[0] ?? "",
      /^ {2}0\/\d+ server pods present their new certificate after 0 s \(waiting for /,
    );
    assert.match(lines.at(-1) ?? "", /^ {2}(\d+)\/\1 server pods present their new certificate after 10 s$/);
  });
});

test("rotate: a pod still presenting the old certificate at the deadline is reported, not passed", async () => {
  await withFleet(async ({ load }) => {
    await (await load()).save();
    const rotated = await load(true);
    const fleet = render(rotated.leaves);
    const serial = (pem: string) => new X509Certificate(pem).serialNumber;
    const report = await rotateInCluster(fleet, rotated.renewals, {
      writeSecret: async () => {},
      presented: async (p) => {
        const r = rotated.renewals.find((x) => x.name === p.leaf);
        if (!r) return undefined;
        return p.workload === "thanos-store" && r.before ? serial(r.before) : serial(r.after);
      },
      clock: fakeClock(),
      progress: () => {},
      timeoutMs: 20_000,
      pollMs: 5_000,
    });
    const late = report.pods.filter((p) => !p.presented);
    assert.deepEqual(
      late.map((p) => p.pod),
      ["mgmt/thanos-store-0:10901"],
    );
    assert.equal(
      late[0]?.serial,
      serial(rotated.renewals.find((r) => r.name === "kube@mgmt/thanos-store")?.before ?? ""),
    );
  });
});

test("each server pod is asked where it presents its certificate: gRPC port, else its HTTPS port", () => {
  const topology = defaultTopology();
  const opts = { ...fakeRenderOptions(topology), discovered: kindAddresses(topology) };
  const fleet = renderFleet(topology, opts);
  const leaves = kubeLeafRequests(topology, opts).map((r) => r.name);
  const pods = presentingPods(fleet.spec, leaves);
  const at = (leaf: string) => pods.filter((p) => p.leaf === leaf).map((p) => [p.index, p.port, p.client]);
  assert.deepEqual(at("kube@mgmt/thanos-store"), [[0, 10901, "grpc"]]);
  assert.deepEqual(at("kube@mgmt/thanos-query-frontend"), [[0, 10902, "http"]]);
  assert.deepEqual(at("kube@biz1/prometheus-kube-prometheus-stack-prometheus"), [
    [0, 10901, "grpc"],
    [1, 10901, "grpc"],
  ]);
  assert.deepEqual(at("kube@biz1/alertmanager"), [[0, 9093, "http"]]);
  assert.equal(new Set(pods.map((p) => p.leaf)).size, leaves.length, "every server has a pod to ask");
});

test("the handshake that tells which certificate a server presents: its serial, verified against the fleet CA", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "kube-certs-hs-"));
  const servers: Server[] = [];
  try {
    const tls = await loadFleetTls(stateDir);
    await tls.save();
    const ca = { cert: tls.grpc.ca, key: await tls.caKey() };
    const leaf = await signLeaf(ca, {
      name: "kube@mgmt/thanos-store",
      sans: ["IP:127.0.0.1", "DNS:thanos-store"],
    });
    const elsewhere = await signLeaf(ca, { name: "kube@mgmt/other", sans: ["DNS:other"] });
    const serve = async (l: { cert: string; key: string }) => {
      const server = createServer({
        cert: l.cert,
        key: l.key,
        ca: tls.grpc.ca,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ["h2"],
      });
      server.on("secureConnection", (s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
      servers.push(server);
      return new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    };
    const files = {
      ca: join(stateDir, "tls", "ca.crt"),
      cert: join(stateDir, "tls", "grpc-client.crt"),
      key: join(stateDir, "tls", "grpc-client.key"),
    };
    assert.equal(
      await presentedSerial(await serve(leaf), files, "h2"),
      new X509Certificate(leaf.cert).serialNumber,
    );
    // A certificate that does not name the address dialled is no answer.
    assert.equal(await presentedSerial(await serve(elsewhere), files, "h2"), undefined);
  } finally {
    for (const s of servers) s.close();
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("rotate: the renewed client certificates written in place where they are held, Grafana restarted for its own", async () => {
  const topology = defaultTopology();
  const base = fakeRenderOptions(topology);
  assert.ok(base.grpcTls && base.httpTls);
  const renewed = {
    grpc: `${base.grpcTls.clientCert}-renewed`,
    http: `${base.httpTls.clientCert}-renewed`,
  };
  const fleet = renderFleet(topology, {
    ...base,
    grpcTls: { ...base.grpcTls, clientCert: renewed.grpc },
    httpTls: { ...base.httpTls, clientCert: renewed.http },
    discovered: kindAddresses(topology),
    outDir: "out",
  });
  const renewals = [
    { name: "grpc-client", before: base.grpcTls.clientCert, after: renewed.grpc, why: "rotated" },
    { name: "http-client", before: base.httpTls.clientCert, after: renewed.http, why: "rotated" },
  ];
  const expected = objectsHolding(fleet, [renewed.grpc, renewed.http]).map(
    (o) => `${o.cluster}/${o.object.kind}/${o.object.metadata.name}`,
  );
  for (const grafana of [true, false]) {
    const written: string[] = [];
    const restarted: string[] = [];
    const r = await handOverRenewedCerts(fleet, renewals, {
      writeObject: async (cluster, o) => {
        const text = JSON.stringify(o);
        assert.ok(text.includes(renewed.grpc) || text.includes(renewed.http), `${o.metadata.name} holds one`);
        written.push(`${cluster}/${o.kind}/${o.metadata.name}`);
      },
      restartGrafana: async (cluster) => {
        restarted.push(cluster);
      },
      grafana,
    });
    assert.deepEqual([...written, ...r.deferred].sort(), [...expected].sort());
    assert.deepEqual(r.objects, written);
    // query-frontend's and the rulers' config objects feed Thanos HTTP clients, which do not re-read the certificate:
    // left to up, which rolls them (their config hash changed).
    assert.ok(r.deferred.includes("mgmt/ConfigMap/thanos-query-frontend-config"), r.deferred.join(", "));
    assert.ok(r.deferred.includes("mgmt/ConfigMap/thanos-ruler-config"), r.deferred.join(", "));
    assert.ok(written.includes("mgmt/ConfigMap/thanos-query-config"), written.join(", "));
    // query's client files (mgmt), each workload cluster's HTTP TLS Secret (Prometheus, the sidecar, Grafana).
    assert.ok(
      written.some((w) => w.startsWith("mgmt/")),
      written.join(", "),
    );
    const workloads = topology.workloads.map((w) => w.name);
    for (const w of workloads) assert.ok(written.includes(`${w}/Secret/thanos-fleet-http-tls`), w);
    assert.deepEqual(restarted, grafana ? workloads : []);
    assert.deepEqual(r.grafanaRestarted, restarted);
  }
  // Only the gRPC one renewed: Grafana's Secret is untouched, Grafana not restarted.
  const restarted: string[] = [];
  const grpcOnly = await handOverRenewedCerts(fleet, renewals.slice(0, 1), {
    writeObject: async () => {},
    restartGrafana: async (c) => {
      restarted.push(c);
    },
    grafana: true,
  });
  assert.ok(grpcOnly.objects.length > 0);
  assert.deepEqual(restarted, []);
  // Nothing renewed: nothing written.
  assert.deepEqual(
    await handOverRenewedCerts(fleet, [], {
      writeObject: async () => assert.fail("nothing to write"),
      restartGrafana: async () => assert.fail("nothing to restart"),
      grafana: true,
    }),
    { objects: [], deferred: [], grafanaRestarted: [] },
  );
});

test("rotate: the storage cluster's renewed certificates written in place, and SeaweedFS asked where it presents them", async () => {
  const topology = defaultTopology();
  const base = fakeRenderOptions(topology);
  assert.ok(base.s3Tls);
  const after = { cert: `${base.s3Tls.cert}-renewed`, internal: `${base.s3Tls.internalCert}-renewed` };
  const fleet = renderFleet(topology, {
    ...base,
    s3Tls: { ...base.s3Tls, cert: after.cert, internalCert: after.internal },
    discovered: kindAddresses(topology),
    outDir: "out",
  });
  const written: string[] = [];
  const r = await handOverRenewedCerts(
    fleet,
    [
      { name: "s3-server", before: base.s3Tls.cert, after: after.cert, why: "rotated" },
      { name: "seaweedfs", before: base.s3Tls.internalCert, after: after.internal, why: "rotated" },
    ],
    {
      writeObject: async (cluster, o) => {
        written.push(`${cluster}/${o.kind}/${o.metadata.name}`);
      },
      restartGrafana: async () => assert.fail("no client certificate renewed"),
      grafana: true,
    },
  );
  assert.ok(written.length > 0 && written.every((w) => w.startsWith("minio/")), written.join(", "));
  assert.deepEqual(r.deferred, [], "SeaweedFS re-reads both: nothing left to a rollout");
  const pods = storagePresentingPods(fleet.spec, ["s3-server", "seaweedfs"]);
  assert.deepEqual(
    pods.map((p) => [p.leaf, p.cluster, p.workload, p.port, p.client]),
    [
      ["s3-server", "minio", "seaweedfs", 8333, "http"],
      ["seaweedfs", "minio", "seaweedfs", 9333, "http"],
    ],
  );
});

test("certs rotate asks each port with the fleet's client certificate of its kind, verifying the trust bundle with an Issuer", () => {
  for (const issued of [false, true]) {
    const files = presentingClientFiles("/state", issued);
    const ca = issued ? "/state/tls/ca-bundle.crt" : "/state/tls/ca.crt";
    assert.deepEqual(files.grpc, {
      ca,
      cert: "/state/tls/grpc-client.crt",
      key: "/state/tls/grpc-client.key",
    });
    assert.deepEqual(files.http, {
      ca,
      cert: "/state/tls/http-client.crt",
      key: "/state/tls/http-client.key",
    });
  }
});
