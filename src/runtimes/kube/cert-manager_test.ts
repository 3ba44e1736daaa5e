import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { KubeObject } from "../../render/types.ts";
import type { KubeApi } from "./api.ts";
import { isReady, issuedCertificates, withIssuing } from "./cert-manager.ts";

const cert = (status: Record<string, unknown>, generation = 2): KubeObject => ({
  apiVersion: "cert-manager.io/v1",
  kind: "Certificate",
  metadata: { name: "thanos-query", namespace: "monitoring", generation },
  spec: { secretName: "thanos-query-tls", dnsNames: ["thanos-query"], ipAddresses: ["127.0.0.1"] },
  status,
});
const ready = (extra: Record<string, unknown> = {}) => ({
  type: "Ready",
  status: "True",
  observedGeneration: 2,
  ...extra,
});

test("Ready only at the current generation and with no issuance under way", () => {
  assert.equal(isReady(cert({ conditions: [ready()] })), true);
  assert.equal(isReady(cert({ conditions: [ready({ observedGeneration: 1 })] })), false, "an older spec's");
  assert.equal(isReady(cert({ conditions: [ready({ status: "False" })] })), false);
  assert.equal(isReady(cert({ conditions: [ready(), { type: "Issuing", status: "True" }] })), false);
  assert.equal(isReady(cert({})), false);
  assert.equal(isReady(undefined), false);
});

test("Issuing=True as cert-manager's SetCertificateCondition sets it: replaced in place, transition time kept", () => {
  const now = new Date("2026-12-07T21:00:00Z");
  const fresh = withIssuing(cert({ conditions: [ready()] }), now);
  assert.deepEqual(fresh[1], {
    type: "Issuing",
    status: "True",
    reason: "ManuallyTriggered",
    message: "Certificate re-issuance manually triggered",
    lastTransitionTime: now.toISOString(),
    observedGeneration: 2,
  });
  const old = { type: "Issuing", status: "True", lastTransitionTime: "2026-12-01T00:00:00Z" };
  const again = withIssuing(cert({ conditions: [old, ready()] }), now);
  assert.equal(again.length, 2);
  assert.equal(again[0]?.lastTransitionTime, "2026-12-01T00:00:00Z");
  const was = { type: "Issuing", status: "False", lastTransitionTime: "2026-12-01T00:00:00Z" };
  assert.equal(withIssuing(cert({ conditions: [was] }), now)[0]?.lastTransitionTime, now.toISOString());
});

test("certs: not-after from the Certificate's status, else its Secret's tls.crt; an unreachable cluster named", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cm-list-"));
  // A certificate valid 10 days, as cert-manager would write it into the Secret.
  const pem = execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "k.pem",
      "-subj",
      "/CN=q",
      "-days",
      "10",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  ).toString();
  const now = Date.parse("2026-12-07T00:00:00Z");
  const api = (objects: Record<string, KubeObject | Error>): KubeApi =>
    ({
      context: "kind-mgmt",
      get: async (ref: { kind: string }) => {
        const o = objects[ref.kind];
        if (o instanceof Error) throw o;
        return o;
      },
    }) as unknown as KubeApi;
  const issuer = { name: "fleet-ca", kind: "ClusterIssuer" as const, group: "cert-manager.io", ca: "ca.pem" };
  const clusters = [{ cluster: "mgmt", context: "kind-mgmt", certificates: [cert({})] }];
  const [fromStatus] = await issuedCertificates(
    clusters,
    issuer,
    () => api({ Certificate: cert({ conditions: [ready()], notAfter: "2027-03-07T00:00:00Z" }) }),
    now,
  );
  assert.equal(fromStatus?.notAfter, "2027-03-07T00:00:00Z");
  assert.equal(fromStatus?.daysLeft, 90);
  assert.equal(fromStatus?.issuedBy, "issued by ClusterIssuer/fleet-ca (cert-manager)");
  assert.deepEqual(fromStatus?.sans, ["DNS:thanos-query", "IP:127.0.0.1"]);
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "thanos-query-tls" },
    data: { "tls.crt": Buffer.from(pem).toString("base64") },
  };
  const [fromSecret] = await issuedCertificates(
    clusters,
    issuer,
    () => api({ Certificate: cert({ conditions: [ready()] }), Secret: secret }),
    Date.now(),
  );
  assert.ok(fromSecret?.daysLeft === 9 || fromSecret?.daysLeft === 10, String(fromSecret?.daysLeft));
  const [unreachable] = await issuedCertificates(clusters, issuer, () =>
    api({ Certificate: new Error("get Certificate in context kind-mgmt: connect ECONNREFUSED") }),
  );
  assert.equal(unreachable?.notAfter, undefined);
  assert.match(unreachable?.ready ?? "", /cluster not reachable \(get Certificate .*ECONNREFUSED\)/);
  await rm(dir, { recursive: true, force: true });
});
