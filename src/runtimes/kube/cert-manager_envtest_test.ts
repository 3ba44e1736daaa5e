// The Certificates `render` writes with tls.issuer, against a real kube-apiserver serving cert-manager's own CRDs
// (v1.21.2, from its Go module): the API server's schema validation accepts every one; up's wait reads their Ready
// condition and certs rotate asks for re-issuance through the status subresource, as `cmctl renew` does.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { certManagerCrds } from "../../../testing/cert-manager/manifests.ts";
import { type ControlPlane, envtestSkip, startControlPlane } from "../../../testing/envtest/controlplane.ts";
import { issuerTopology, render } from "../../render/testdata/fixtures.ts";
import type { KubeObject } from "../../render/types.ts";
import { createKubeApi, type KubeApi, refOf } from "./api.ts";
import { condition, triggerRenewal, waitCertificatesReady } from "./cert-manager.ts";
import { fakeClock, pollUntil, realClock } from "./wait.ts";

const NS = "monitoring";
const crds = await certManagerCrds().then(
  (objects) => ({ objects }),
  (error: Error) => ({ skip: `cert-manager's CRDs: ${error.message.split("\n")[0]}` }),
);
const skip = envtestSkip() || ("skip" in crds ? crds.skip : false);

describe("cert-manager Certificates against a real API server with cert-manager's CRDs", { skip }, () => {
  let cp: ControlPlane;
  let api: KubeApi;
  const topology = issuerTopology();
  const fleet = render(topology);
  const issuer = topology.fleet.tls.issuer;
  const certificates = fleet.clusters.flatMap((rc) => rc.certificates ?? []);

  before(async () => {
    cp = await startControlPlane({ name: "cert-manager" });
    api = createKubeApi({ kubeconfig: cp.kubeconfigPath, context: cp.context });
    if (!("objects" in crds)) return;
    for (const crd of crds.objects) await api.serverSideApply(crd);
    for (const crd of crds.objects) {
      await pollUntil(
        realClock,
        async () => {
          const live = await api.get(refOf(crd));
          const conditions = (live?.status as { conditions?: { type: string; status: string }[] })
            ?.conditions;
          return conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: () => `${crd.metadata.name} not Established` },
      );
    }
    await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  });
  after(async () => {
    await cp?.stop();
  });

  test("the API server's schema accepts every rendered Certificate, and refuses one cert-manager would not take", async () => {
    assert.ok(certificates.length > 10, `${certificates.length} Certificates`);
    for (const c of certificates) {
      // Every cluster of the fleet holds the same names (alertmanager): one API server takes each in turn.
      await api.serverSideApply(c);
      const live = await api.get(refOf(c));
      assert.deepEqual(live?.spec, c.spec, `${c.metadata.name} stored as rendered (no field pruned)`);
    }
    const [first] = certificates;
    assert.ok(first);
    const bad = {
      ...first,
      metadata: { ...first.metadata, name: "bad" },
      spec: {
        ...(first.spec as object),
        privateKey: { algorithm: "EC", size: 256, rotationPolicy: "Never" },
      },
    };
    await assert.rejects(api.serverSideApply(bad), /privateKey\.algorithm|Unsupported value/);
  });

  test("up's wait: a Certificate not Ready times out naming it and its Ready reason; Ready ones pass", async () => {
    const query = certificates.find((c) => c.metadata.name === "thanos-query");
    assert.ok(query && issuer);
    await api.serverSideApply(query);
    const setReady = async (status: "True" | "False", reason: string, message: string) => {
      const live = await api.get(refOf(query));
      await api.mergePatch(
        refOf(query),
        {
          status: {
            conditions: [
              {
                type: "Ready",
                status,
                reason,
                message,
                observedGeneration: live?.metadata.generation,
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          },
        },
        { subresource: "status" },
      );
    };
    await setReady("False", "DoesNotExist", 'Issuer "fleet-ca" not found');
    await assert.rejects(
      waitCertificatesReady(api, [query], { clock: fakeClock(), timeoutMs: 5_000, issuer }),
      (e: Error) => {
        assert.match(e.message, /1 Certificate is not Ready in context .* after 5s/);
        assert.match(
          e.message,
          /Certificate monitoring\/thanos-query: Ready=False DoesNotExist: Issuer "fleet-ca" not found/,
        );
        assert.match(
          e.message,
          /fix: check that cert-manager runs in this cluster and that ClusterIssuer fleet-ca is Ready/,
        );
        return true;
      },
    );
    await setReady("True", "Ready", "Certificate is up to date and has not expired");
    const lines: string[] = [];
    await waitCertificatesReady(api, [query], {
      clock: fakeClock(),
      timeoutMs: 5_000,
      issuer,
      progress: (l) => lines.push(l),
    });
    assert.deepEqual(lines, ["  1 of 1 Certificates Ready"]);
  });

  test("certs rotate: Issuing=True ManuallyTriggered through the status subresource, as cmctl renew sets it", async () => {
    const store = certificates.find((c) => c.metadata.name === "thanos-store") as KubeObject;
    await api.serverSideApply(store);
    await triggerRenewal(api, store);
    const live = await api.get(refOf(store));
    const issuing = condition(live, "Issuing");
    assert.equal(issuing?.status, "True");
    assert.equal(issuing?.reason, "ManuallyTriggered");
    assert.equal(issuing?.message, "Certificate re-issuance manually triggered");
    assert.equal(issuing?.observedGeneration, live?.metadata.generation);
    // A second request keeps the condition's transition time (no status change) and needs the current version.
    await triggerRenewal(api, store);
    assert.equal(
      condition(await api.get(refOf(store)), "Issuing")?.lastTransitionTime,
      issuing?.lastTransitionTime,
    );
    assert.deepEqual(live?.spec, store.spec, "the spec is untouched");
  });
});
