// cert-manager's own controllers (v1.21.2, CA issuer: testing/envtest/cert-manager.ts runs them) issue the
// Certificates `render` writes with tls.issuer against a real API server: up's wait sees each become Ready, the
// Secret holds a certificate the issuer's CA signed for exactly the SANs thanos-fleet computes, and `certs rotate`'s
// re-issuance request gives a new certificate on the same key.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CertManager,
  certManagerSkip,
  startCertManager,
} from "../../../testing/envtest/cert-manager.ts";
import { type ControlPlane, envtestSkip, startControlPlane } from "../../../testing/envtest/controlplane.ts";
import { makeTestCa } from "../../../testing/test-ca.ts";
import { issuerTopology, render } from "../../render/testdata/fixtures.ts";
import { sansOf } from "../../state/server-certs.ts";
import { createKubeApi, type KubeApi, refOf } from "./api.ts";
import { isReady, issuedSerial, renewIssued, waitCertificatesReady } from "./cert-manager.ts";
import { pollUntil, realClock } from "./wait.ts";

const skip = envtestSkip() || certManagerSkip();
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe(
  "cert-manager's controllers issue the rendered Certificates, against a real API server",
  { skip },
  () => {
    let cp: ControlPlane;
    let api: KubeApi;
    let cm: CertManager;
    let dir: string;
    let ca: string;
    const topology = issuerTopology();
    const issuer = topology.fleet.tls.issuer;
    const mgmt = render(topology).clusters.find((rc) => rc.cluster === "mgmt");
    const certificates = mgmt?.certificates ?? [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "cm-issue-envtest-"));
      ca = await readFile(makeTestCa(dir, { subject: "/CN=Org CA" }).cert, "utf8");
      cp = await startControlPlane({ name: "cm-issue" });
      api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
      cm = await startCertManager(cp, api);
      await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "monitoring" } });
      await api.serverSideApply({
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: { name: "fleet-ca", namespace: cm.namespace },
        data: { "tls.crt": b64(ca), "tls.key": b64(await readFile(join(dir, "ca.key"), "utf8")) },
      });
      await api.serverSideApply({
        apiVersion: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        metadata: { name: "fleet-ca" },
        spec: { ca: { secretName: "fleet-ca" } },
      });
      await pollUntil(
        realClock,
        async () =>
          isReady(
            await api.get({ apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", name: "fleet-ca" }),
          )
            ? true
            : undefined,
        { timeoutMs: 120_000, intervalMs: 250, what: () => "ClusterIssuer fleet-ca not Ready" },
      );
    });
    after(async () => {
      await cm?.stop();
      await cp?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("up's wait sees every Certificate Ready; each Secret holds the issuer CA's certificate for exactly its SANs", async () => {
      assert.ok(issuer && certificates.length >= 6, `${certificates.length} Certificates in mgmt`);
      for (const c of certificates) await api.serverSideApply(c);
      const lines: string[] = [];
      await waitCertificatesReady(api, certificates, {
        clock: realClock,
        timeoutMs: 120_000,
        issuer,
        progress: (l) => lines.push(l),
      });
      assert.equal(lines.at(-1), `  ${certificates.length} of ${certificates.length} Certificates Ready`);
      const caCert = new X509Certificate(ca);
      for (const c of certificates) {
        const spec = c.spec as { secretName: string; dnsNames: string[]; ipAddresses?: string[] };
        const secret = await api.get({
          apiVersion: "v1",
          kind: "Secret",
          namespace: "monitoring",
          name: spec.secretName,
        });
        const data = secret?.data as Record<string, string>;
        const cert = new X509Certificate(Buffer.from(data["tls.crt"] ?? "", "base64"));
        assert.ok(cert.verify(caCert.publicKey), `${spec.secretName}: signed by the issuer's CA`);
        const want = [
          ...spec.dnsNames.map((d) => `DNS:${d}`),
          ...(spec.ipAddresses ?? []).map((i) => `IP:${i}`),
        ];
        assert.deepEqual(sansOf(cert).sort(), want.sort(), spec.secretName);
        assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
        assert.equal(
          (secret?.metadata.labels as Record<string, string>)["app.kubernetes.io/managed-by"],
          "thanos-fleet",
          "the Secret carries thanos-fleet's label (secretTemplate): down removes it",
        );
      }
    });

    test("certs rotate: re-issuance asked as cmctl renew does gives a new certificate on the same key", async () => {
      const query = certificates.find((c) => c.metadata.name === "thanos-query");
      assert.ok(query);
      const keyOf = async () => {
        const s = await api.get({
          apiVersion: "v1",
          kind: "Secret",
          namespace: "monitoring",
          name: "thanos-query-tls",
        });
        return new X509Certificate(
          Buffer.from((s?.data as Record<string, string>)["tls.crt"] ?? "", "base64"),
        ).publicKey
          .export({ type: "spki", format: "der" })
          .toString("base64");
      };
      const keyBefore = await keyOf();
      const before = await issuedSerial(api, query);
      const r = await renewIssued(api, query, { clock: realClock, timeoutMs: 120_000 });
      assert.equal(r.serialBefore, before);
      assert.notEqual(r.serialAfter, before);
      assert.equal(await issuedSerial(api, query), r.serialAfter);
      assert.equal(await keyOf(), keyBefore, "rotationPolicy Never: the same key");
      assert.ok(isReady(await api.get(refOf(query))));
    });
  },
);
