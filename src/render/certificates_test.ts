import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { kubeLeafRequests } from "./render.ts";
import { parseKubeLeafName } from "./server-certs.ts";
import {
  defaultTopology,
  fakeRenderOptions,
  issuerTopology,
  kindAddresses,
  render,
} from "./testdata/fixtures.ts";
import type { KubeObject } from "./types.ts";

type CertSpec = { secretName: string; dnsNames: string[]; ipAddresses?: string[]; issuerRef: unknown };

describe("servers' certificates from a cert-manager Issuer", () => {
  const topology = issuerTopology();
  const fleet = render(topology);
  const certs = fleet.clusters.flatMap((rc) => (rc.certificates ?? []).map((c) => ({ rc, c })));

  test("one Certificate per server workload that gets a leaf of ours without an Issuer, with exactly its SANs", () => {
    // The same fleet without the Issuer: the leaves thanos-fleet would make, and their SANs (server-certs.ts).
    const { issuer: _, ...tls } = topology.fleet.tls;
    const plain = { ...topology, fleet: { ...topology.fleet, tls } };
    const requests = kubeLeafRequests(plain, {
      ...fakeRenderOptions(plain),
      discovered: kindAddresses(plain),
    });
    const want = new Map(
      requests.map((r) => {
        const at = parseKubeLeafName(r.name);
        return [`${at?.cluster}/${at?.workload}`, r.sans];
      }),
    );
    const got = new Map(
      certs.map(({ rc, c }) => {
        const spec = c.spec as CertSpec;
        const sans = [
          ...spec.dnsNames.map((d) => `DNS:${d}`),
          ...(spec.ipAddresses ?? []).map((i) => `IP:${i}`),
        ];
        return [`${rc.cluster}/${c.metadata.name}`, sans.sort()];
      }),
    );
    assert.ok(want.size > 10, `${want.size} server workloads`);
    assert.deepEqual(got, want);
    for (const { c } of certs) {
      assert.deepEqual((c.spec as CertSpec).issuerRef, {
        name: "fleet-ca",
        kind: "ClusterIssuer",
        group: "cert-manager.io",
      });
    }
  });

  test("cert-manager writes each server's Secret: none is rendered, and no key material at all", () => {
    for (const { rc, c } of certs) {
      const name = (c.spec as CertSpec).secretName;
      assert.ok(!rc.secrets.some((s: KubeObject) => s.metadata.name === name), `${rc.cluster}: ${name}`);
    }
    const text = JSON.stringify(fleet.clusters);
    assert.doesNotMatch(text, /fake-leaf|fake-server-key|fake-http-server-key|BEGIN/);
  });

  test("each workload mounts its Secret's tls.crt and tls.key under the names its containers read, as a directory", () => {
    const mgmt = fleet.clusters.find((rc) => rc.cluster === "mgmt");
    const query = mgmt?.manifests.find((o) => o.kind === "Deployment" && o.metadata.name === "thanos-query");
    const text = JSON.stringify(query?.spec);
    assert.match(
      text,
      /"secret":\{"name":"thanos-query-tls","items":\[\{"key":"tls\.crt","path":"[^"]+\.crt"\},\{"key":"tls\.key","path":"[^"]+\.key"\}/,
    );
    assert.doesNotMatch(text, /subPath/);
  });

  test("clients trust the fleet CA and the issuer's; the sidecars' gRPC servers verify clients against both", () => {
    const biz1 = fleet.clusters.find((rc) => rc.cluster === "biz1");
    const clientCa = biz1?.secrets.find((s) => s.metadata.name === "thanos-fleet-client-ca");
    assert.equal(
      (clientCa?.stringData as Record<string, string>)["ca.crt"],
      "fake-ca-pem\nfake-issuer-ca-pem\n",
    );
    assert.match(
      JSON.stringify(biz1?.helmValues),
      /"caFile":"\/etc\/prometheus\/secrets\/thanos-fleet-client-ca\/ca\.crt"/,
    );
  });

  test("without an Issuer, nothing of it is rendered", () => {
    const plain = render(defaultTopology());
    assert.ok(plain.clusters.every((rc) => rc.certificates === undefined));
    assert.doesNotMatch(JSON.stringify(plain.clusters), /thanos-fleet-client-ca|cert-manager/);
  });
});
