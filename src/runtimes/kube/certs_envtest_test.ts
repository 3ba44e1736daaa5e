// certs rotate against a real kube-apiserver and etcd: each server's Secret, as up applied it, is written in place by
// the rotation (the same object, its uid kept, its data the renewed certificate on the same key), so the kubelet
// updates the files of the pods that mount it instead of the pods being made again.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, envtestSkip, startControlPlane } from "../../../testing/envtest/controlplane.ts";
import { renderFleet } from "../../render/render.ts";
import { defaultTopology, fakeRenderOptions, kindAddresses } from "../../render/testdata/fixtures.ts";
import { renewClientCerts } from "../../state/client-certs.ts";
import { loadFleetTls } from "../../state/tls.ts";
import { createKubeApi, type KubeApi } from "./api.ts";
import {
  GRAFANA_DEPLOYMENT,
  handOverRenewedCerts,
  loadKubeLeaves,
  RESTARTED_AT,
  restartGrafana,
  rotateInCluster,
} from "./certs.ts";

const NS = "monitoring";
const skip = envtestSkip();

describe("certs rotate writes each server's Secret in place, against a real API server", { skip }, () => {
  let cp: ControlPlane;
  let api: KubeApi;
  let stateDir: string;

  before(async () => {
    cp = await startControlPlane({ name: "certs" });
    api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
    await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    stateDir = await mkdtemp(join(tmpdir(), "kube-certs-envtest-"));
  });
  after(async () => {
    await cp?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test("the Secret keeps its uid; its certificate is the renewed one, its key the same", async () => {
    const topology = defaultTopology();
    const tls = await loadFleetTls(stateDir);
    await tls.save();
    const { serverLeaves: _fake, ...opts } = fakeRenderOptions(topology);
    const discovered = kindAddresses(topology);
    const load = (renewAll: boolean) =>
      loadKubeLeaves(
        topology,
        stateDir,
        opts,
        discovered,
        { cert: tls.grpc.ca, key: tls.caKey },
        { renewAll },
      );
    const render = (leaves: Awaited<ReturnType<typeof load>>["leaves"]) =>
      renderFleet(topology, { ...opts, discovered, serverLeaves: leaves });

    // What up applies: mgmt's Secrets, each server's own among them.
    const first = await load(false);
    await first.save();
    const mgmt = render(first.leaves).clusters.find((c) => c.cluster === "mgmt");
    assert.ok(mgmt);
    for (const s of mgmt.secrets) await api.serverSideApply(s);
    const ref = { apiVersion: "v1", kind: "Secret", namespace: NS, name: "thanos-query-tls" };
    const applied = await api.get(ref);
    assert.ok(applied, "up applied thanos-query-tls");

    const rotated = await load(true);
    await rotated.save();
    const mine = rotated.renewals.filter((r) => r.name.startsWith("kube@mgmt/"));
    const fleet = render(rotated.leaves);
    const report = await rotateInCluster(fleet, mine, {
      writeSecret: async (_cluster, secret) => {
        await api.serverSideApply(secret);
      },
      presented: async (p) =>
        new X509Certificate(mine.find((r) => r.name === p.leaf)?.after ?? "").serialNumber,
      clock: { now: () => 0, sleep: async () => {} },
      progress: () => {},
      timeoutMs: 0,
      pollMs: 0,
    });
    assert.ok(report.secrets.includes("mgmt/thanos-query-tls"));

    const now = await api.get(ref);
    assert.ok(now);
    assert.equal(now.metadata.uid, applied.metadata.uid, "the same object: written in place, not made again");
    assert.notEqual(now.metadata.resourceVersion, applied.metadata.resourceVersion);
    const data = now.data as Record<string, string>;
    const text = (k: string) => Buffer.from(data[k] ?? "", "base64").toString();
    const leaf = rotated.leaves.get("kube@mgmt/thanos-query");
    assert.equal(text("http-tls.crt"), leaf?.cert);
    assert.equal(
      text("http-tls.key"),
      first.leaves.get("kube@mgmt/thanos-query")?.key,
      "the key is the same",
    );
    const before = new X509Certificate(
      Buffer.from((applied.data as Record<string, string>)["http-tls.crt"] ?? "", "base64"),
    );
    assert.notEqual(new X509Certificate(text("http-tls.crt")).serialNumber, before.serialNumber);
  });
  test("the client certificates' objects written in place, same key; Grafana's Deployment rolled by its template", async () => {
    const topology = defaultTopology();
    const loaded = await loadFleetTls(stateDir);
    const { serverLeaves: _fake, grpcTls: _g, httpTls: _h, ...opts } = fakeRenderOptions(topology);
    const discovered = kindAddresses(topology);
    const render = (tls: { grpc: typeof loaded.grpc; http: typeof loaded.http }) =>
      renderFleet(topology, { ...opts, grpcTls: tls.grpc, httpTls: tls.http, discovered });
    const cluster = topology.workloads[0]?.name ?? "biz1";
    const objectsOf = (fleet: ReturnType<typeof render>) =>
      fleet.clusters.filter((c) => c.cluster === "mgmt" || c.cluster === cluster);
    // What up applies: every ConfigMap and Secret of mgmt and one workload cluster, and a Grafana Deployment.
    const first = render(loaded);
    for (const rc of objectsOf(first)) {
      for (const o of [...rc.secrets, ...rc.manifests].filter((x) => /^(Secret|ConfigMap)$/.test(x.kind))) {
        await api.serverSideApply(o);
      }
    }
    await api.serverSideApply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: GRAFANA_DEPLOYMENT, namespace: NS },
      spec: {
        selector: { matchLabels: { app: "grafana" } },
        template: {
          metadata: { labels: { app: "grafana" } },
          spec: { containers: [{ name: "grafana", image: "grafana" }] },
        },
      },
    } as never);
    const httpSecret = { apiVersion: "v1", kind: "Secret", namespace: NS, name: "thanos-fleet-http-tls" };
    const applied = await api.get(httpSecret);
    assert.ok(applied, "up applied the HTTP TLS Secret");

    const clients = await renewClientCerts(stateDir, loaded, loaded.caKey, { renewAll: true });
    const fleet = render(clients);
    const only = { ...fleet, clusters: objectsOf(fleet) };
    const report = await handOverRenewedCerts(only, clients.renewals, {
      writeObject: async (_c, o) => {
        await api.serverSideApply(o);
      },
      restartGrafana: (c) =>
        c === cluster ? restartGrafana(api, Date.parse("2026-12-07T22:00:00Z")) : Promise.resolve(),
      grafana: true,
    });
    assert.ok(report.objects.includes(`${cluster}/Secret/thanos-fleet-http-tls`), report.objects.join(", "));
    assert.ok(
      report.objects.some((o) => o.startsWith("mgmt/")),
      report.objects.join(", "),
    );
    const now = await api.get(httpSecret);
    assert.ok(now);
    assert.equal(now.metadata.uid, applied.metadata.uid, "the same object: written in place");
    const text = (o: typeof now, k: string) =>
      Buffer.from((o.data as Record<string, string>)[k] ?? "", "base64").toString();
    assert.equal(text(now, "http-client.crt"), clients.http.clientCert);
    assert.equal(text(now, "http-client.key"), text(applied, "http-client.key"), "the key is the same");
    assert.notEqual(text(now, "http-client.crt"), text(applied, "http-client.crt"));
    const grafana = await api.get({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name: GRAFANA_DEPLOYMENT,
    });
    const annotations = (
      grafana?.spec as { template: { metadata: { annotations?: Record<string, string> } } }
    ).template.metadata.annotations;
    assert.equal(annotations?.[RESTARTED_AT], "2026-12-07T22:00:00.000Z");
  });
});
