// cert-manager v1.21.2's own controllers issue from a CA ClusterIssuer against a real API server: the Certificate
// becomes Ready, its Secret holds a certificate that CA signed with exactly the SANs asked for, on an ECDSA P-256
// key, and a renewal triggered as `cmctl renew` does it gives a new certificate on the same key (rotationPolicy
// Never). The controllers run as the ServiceAccount testing/cert-manager/manifests.ts grants its rules to.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createKubeApi, type KubeApi, loadKubeConfig } from "../../src/runtimes/kube/api.ts";
import type { Condition } from "../../src/runtimes/kube/cert-manager.ts";
import { sansOf } from "../../src/state/server-certs.ts";
import { makeTestCa } from "../test-ca.ts";
import { type CertManager, certManagerSkip, startCertManager } from "./cert-manager.ts";
import { type ControlPlane, envtestSkip, startControlPlane } from "./controlplane.ts";

const skip = envtestSkip() || certManagerSkip();
const NS = "monitoring";
const CM = { group: "cert-manager.io", version: "v1" };

interface Certificate {
  metadata: { name: string; generation?: number; [k: string]: unknown };
  status?: { conditions?: Condition[]; revision?: number; [k: string]: unknown };
  [k: string]: unknown;
}

/** A self-signed P-256 CA: basicConstraints CA:TRUE, as the CA issuer requires. */
async function makeCa(dir: string): Promise<{ cert: string; key: string }> {
  const files = makeTestCa(dir, { subject: "/CN=cert-manager envtest CA" });
  return { cert: await readFile(files.cert, "utf8"), key: await readFile(files.key, "utf8") };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s ?? ""), "base64").toString("utf8");

describe(
  "cert-manager's controllers issue from a CA ClusterIssuer, against a real API server",
  { skip },
  () => {
    let cp: ControlPlane;
    let api: KubeApi;
    let custom: CustomObjectsApi;
    let cm: CertManager;
    let dir: string;
    let ca: { cert: string; key: string };

    const condition = (obj: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
      obj?.status?.conditions?.find((c) => c.type === type);
    const getCert = async (name: string) =>
      (await custom.getNamespacedCustomObject({
        ...CM,
        namespace: NS,
        plural: "certificates",
        name,
      })) as Certificate;
    const getSecret = async (name: string) =>
      (await api.get({ apiVersion: "v1", kind: "Secret", namespace: NS, name })) as
        | { data?: Record<string, string> }
        | undefined;

    /** Polls until `probe` returns a value; the error says what was awaited, the last state and the runner's log. */
    async function until<T>(what: string, probe: () => Promise<T | string>, timeoutMs = 120_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      for (;;) {
        const r = await probe().catch((err: Error) => `error: ${err.message}`);
        if (typeof r !== "string") return r;
        last = r;
        if (cm.process.hasExited())
          assert.fail(`${what}: the runner ${await cm.process.exited}\n${await cm.process.tail(40)}`);
        if (Date.now() > deadline)
          assert.fail(`${what}: not after ${timeoutMs / 1000} s (${last})\n${await cm.process.tail(40)}`);
        await sleep(250);
      }
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "cert-manager-envtest-"));
      ca = await makeCa(dir);
      cp = await startControlPlane({ name: "cert-manager" });
      api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
      custom = loadKubeConfig({ kubeconfig: cp.kubeconfigPath, context: cp.context }).makeApiClient(
        CustomObjectsApi,
      );
      cm = await startCertManager(cp, api);
    });
    after(async () => {
      await cm?.stop();
      await cp?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("a Certificate becomes Ready; a renewal keeps its key", async () => {
      await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
      // ClusterIssuers read their CA from the runner's cluster resource namespace.
      await api.serverSideApply({
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: { name: "fleet-ca", namespace: cm.namespace },
        data: { "tls.crt": b64(ca.cert), "tls.key": b64(ca.key) },
      });
      await api.serverSideApply({
        apiVersion: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        metadata: { name: "fleet-ca" },
        spec: { ca: { secretName: "fleet-ca" } },
      });
      await until("ClusterIssuer fleet-ca Ready", async () => {
        const issuer = (await custom.getClusterCustomObject({
          ...CM,
          plural: "clusterissuers",
          name: "fleet-ca",
        })) as {
          status?: { conditions?: Condition[] };
        };
        const ready = condition(issuer, "Ready");
        return ready?.status === "True" ? true : `Ready=${ready?.status} ${ready?.message ?? ""}`;
      });

      const dnsNames = ["thanos-query.monitoring.svc", "query.fleet.example"];
      await api.serverSideApply({
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: "thanos-query", namespace: NS },
        spec: {
          secretName: "thanos-query-tls",
          issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "fleet-ca" },
          dnsNames,
          ipAddresses: ["10.0.0.17"],
          duration: "24h",
          privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Never" },
        },
      });
      const readyAt = async (revision: number) =>
        until(`Certificate thanos-query Ready at revision ${revision}`, async () => {
          const c = await getCert("thanos-query");
          const ready = condition(c, "Ready");
          if (ready?.status === "True" && c.status?.revision === revision) return c;
          return `Ready=${ready?.status} (${ready?.reason}: ${ready?.message}), revision ${c.status?.revision}`;
        });
      await readyAt(1);

      const secret = await getSecret("thanos-query-tls");
      const cert = new X509Certificate(unb64(secret?.data?.["tls.crt"]));
      const caCert = new X509Certificate(ca.cert);
      assert.ok(
        cert.checkIssued(caCert) && cert.verify(caCert.publicKey),
        "tls.crt is signed by the ClusterIssuer's CA",
      );
      assert.deepEqual(sansOf(cert), [
        "DNS:query.fleet.example",
        "DNS:thanos-query.monitoring.svc",
        "IP:10.0.0.17",
      ]);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
      const key = unb64(secret?.data?.["tls.key"]);
      assert.ok(cert.checkPrivateKey(createPrivateKey(key)), "tls.key is the certificate's key");
      assert.equal(unb64(secret?.data?.["ca.crt"]).trim(), ca.cert.trim());

      // What cmctl renew does: Issuing=True, reason ManuallyTriggered, through the status subresource.
      const current = await getCert("thanos-query");
      const conditions = (current.status?.conditions ?? []).filter((c) => c.type !== "Issuing");
      conditions.push({
        type: "Issuing",
        status: "True",
        reason: "ManuallyTriggered",
        message: "Certificate re-issuance manually triggered",
        observedGeneration: current.metadata.generation,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      });
      await custom.replaceNamespacedCustomObjectStatus({
        ...CM,
        namespace: NS,
        plural: "certificates",
        name: "thanos-query",
        body: { ...current, status: { ...current.status, conditions } },
      });
      await readyAt(2);

      const renewed = await getSecret("thanos-query-tls");
      const next = new X509Certificate(unb64(renewed?.data?.["tls.crt"]));
      assert.notEqual(next.serialNumber, cert.serialNumber, "the renewal issued a new certificate");
      assert.ok(next.checkIssued(caCert) && next.verify(caCert.publicKey));
      assert.deepEqual(sansOf(next), sansOf(cert));
      assert.equal(unb64(renewed?.data?.["tls.key"]), key, "rotationPolicy Never: the same key");
      assert.ok(next.publicKey.equals(cert.publicKey));
    });
  },
);
