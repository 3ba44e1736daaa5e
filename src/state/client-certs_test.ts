import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { expireLeaf } from "../../testing/test-ca.ts";
import { renewClientCerts } from "./client-certs.ts";
import { LEAF_DAYS, RENEW_WITHIN_DAYS, renewalDue } from "./server-certs.ts";
import { loadFleetTls, loadOrCreateFleetTls, TLS_DIR } from "./tls.ts";

const run = promisify(execFile);
const DAY = 86_400_000;

function days(pem: string, now = Date.now()): number {
  return Math.round((Date.parse(new X509Certificate(pem).validTo) - now) / DAY);
}

async function withState(fn: (stateDir: string) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-clients-"));
  try {
    await loadOrCreateFleetTls(stateDir);
    await fn(stateDir);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** What openssl reads in a certificate: its extended key usage and subject. */
async function text(pem: string, dir: string): Promise<string> {
  await writeFile(join(dir, "x.crt"), pem);
  return (await run("openssl", ["x509", "-in", join(dir, "x.crt"), "-noout", "-text"])).stdout;
}

test("a new fleet's client certificates are valid 90 days, P-256, client-only, from the fleet CA", async () => {
  await withState(async (stateDir) => {
    const { grpc, http } = await loadFleetTls(stateDir);
    const ca = new X509Certificate(grpc.ca);
    for (const t of [grpc, http]) {
      const cert = new X509Certificate(t.clientCert);
      assert.equal(days(t.clientCert), LEAF_DAYS);
      assert.ok(cert.verify(ca.publicKey));
      assert.ok(cert.checkPrivateKey(createPrivateKey(t.clientKey)));
      assert.equal(createPrivateKey(t.clientKey).asymmetricKeyDetails?.namedCurve, "prime256v1");
      const out = await text(t.clientCert, stateDir);
      assert.match(out, /TLS Web Client Authentication/);
      assert.doesNotMatch(out, /TLS Web Server Authentication/);
    }
  });
});

test("up's rule: a client certificate is renewed within 30 days of expiry or after it, not before", () =>
  withState(async (stateDir) => {
    const { grpc } = await loadFleetTls(stateDir);
    // Counted back from its expiry (plus half a day: days left are whole days, rounded down).
    const expiry = Date.parse(new X509Certificate(grpc.clientCert).validTo);
    const daysBefore = (n: number) => expiry - n * DAY - DAY / 2;
    assert.equal(renewalDue(grpc.clientCert), undefined, "a new one");
    assert.equal(renewalDue(grpc.clientCert, daysBefore(RENEW_WITHIN_DAYS)), undefined);
    assert.equal(
      renewalDue(grpc.clientCert, daysBefore(RENEW_WITHIN_DAYS - 1)),
      `expires in ${RENEW_WITHIN_DAYS - 1} day(s)`,
    );
    assert.equal(renewalDue(grpc.clientCert, expiry + 2 * DAY), "expired");
  }));

test("renewal keeps each client's key and subject, gives 90 days from now, and writes only the certificates", async () => {
  await withState(async (stateDir) => {
    const before = await loadFleetTls(stateDir);
    const dir = join(stateDir, TLS_DIR);
    const keys = await Promise.all(
      ["grpc-client.key", "http-client.key"].map((f) => readFile(join(dir, f), "utf8")),
    );
    // Nothing due now: the same certificates, nothing renewed.
    const none = await renewClientCerts(stateDir, before, before.caKey);
    assert.deepEqual(none.renewals, []);
    assert.equal(none.grpc.clientCert, before.grpc.clientCert);
    // 70 days on, both are within 30 days of expiry.
    const later = Date.now() + 70 * DAY;
    const due = await renewClientCerts(stateDir, before, before.caKey, { now: later });
    assert.deepEqual(
      due.renewals.map((r) => [r.name, r.why]),
      [
        ["grpc-client", "expires in 19 day(s)"],
        ["http-client", "expires in 19 day(s)"],
      ],
    );
    assert.equal(due.grpc.clientKey, before.grpc.clientKey, "the same key");
    assert.equal(due.http.clientKey, before.http.clientKey, "the same key");
    for (const [was, now] of [
      [before.grpc.clientCert, due.grpc.clientCert],
      [before.http.clientCert, due.http.clientCert],
    ] as const) {
      const [a, b] = [new X509Certificate(was), new X509Certificate(now)];
      assert.notEqual(a.serialNumber, b.serialNumber);
      assert.equal(a.subject, b.subject);
      assert.equal(
        b.publicKey.export({ format: "pem", type: "spki" }),
        a.publicKey.export({ format: "pem", type: "spki" }),
      );
      assert.ok(b.verify(new X509Certificate(before.grpc.ca).publicKey));
      assert.equal(days(now), LEAF_DAYS);
      assert.match(await text(now, stateDir), /TLS Web Client Authentication/);
    }
    assert.equal(
      await readFile(join(dir, "grpc-client.crt"), "utf8"),
      before.grpc.clientCert,
      "nothing written before save",
    );
    await due.save();
    assert.equal(await readFile(join(dir, "grpc-client.crt"), "utf8"), due.grpc.clientCert);
    assert.equal(await readFile(join(dir, "http-client.crt"), "utf8"), due.http.clientCert);
    assert.deepEqual(
      await Promise.all(["grpc-client.key", "http-client.key"].map((f) => readFile(join(dir, f), "utf8"))),
      keys,
    );
    // The tls dir still loads: the renewed certificates are their keys' and the CA's.
    const again = await loadFleetTls(stateDir);
    assert.equal(again.grpc.clientCert, due.grpc.clientCert);
  });
});

test("certs rotate renews both client certificates however long they have left", async () => {
  await withState(async (stateDir) => {
    const before = await loadFleetTls(stateDir);
    const all = await renewClientCerts(stateDir, before, before.caKey, { renewAll: true });
    assert.deepEqual(
      all.renewals.map((r) => [r.name, r.why]),
      [
        ["grpc-client", "rotated"],
        ["http-client", "rotated"],
      ],
    );
  });
});

test("an older fleet's 10-year client certificates are used as they are, never refused for their length", async () => {
  await withState(async (stateDir) => {
    const dir = join(stateDir, TLS_DIR);
    // Re-sign the client certificates for 3650 days, as fleets made before did.
    for (const name of ["grpc-client", "http-client"]) {
      await run(
        "openssl",
        ["req", "-new", "-key", `${name}.key`, "-subj", "/CN=old", "-out", `${name}.csr`],
        { cwd: dir },
      );
      await run(
        "openssl",
        [
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          "3650",
          "-out",
          `${name}.crt`,
        ],
        { cwd: dir },
      );
      await rm(join(dir, `${name}.csr`));
    }
    await rm(join(dir, "ca.srl"), { force: true });
    const tls = await loadFleetTls(stateDir);
    assert.ok(days(tls.grpc.clientCert) > 3000);
    const kept = await renewClientCerts(stateDir, tls, tls.caKey);
    assert.deepEqual(kept.renewals, []);
  });
});

test("an expired client certificate is renewed on its key by the next up, not refused", async () => {
  await withState(async (stateDir) => {
    expireLeaf(
      join(stateDir, TLS_DIR),
      "grpc-client.crt",
      "grpc-client.key",
      "/CN=thanos-query",
      "extendedKeyUsage=clientAuth\n",
    );
    const tls = await loadFleetTls(stateDir);
    const r = await renewClientCerts(stateDir, tls, tls.caKey);
    assert.deepEqual(
      r.renewals.map((x) => [x.name, x.why]),
      [["grpc-client", "expired"]],
    );
    assert.equal(days(r.grpc.clientCert), LEAF_DAYS);
  });
});
