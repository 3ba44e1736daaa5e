import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { expireLeaf } from "../../testing/test-ca.ts";
import { LEAF_DAYS, sansOf } from "./server-certs.ts";
import { renewStorageCerts } from "./storage-certs.ts";
import { loadFleetTls, loadS3Tls, SEAWEEDFS_SANS, s3Sans, TLS_DIR } from "./tls.ts";

const run = promisify(execFile);
const DAY = 86_400_000;
const service = { name: "thanos-fleet-s3", namespace: "thanos-fleet" };

function days(pem: string, now = Date.now()): number {
  return Math.round((Date.parse(new X509Certificate(pem).validTo) - now) / DAY);
}

async function usages(pem: string, dir: string): Promise<string> {
  await writeFile(join(dir, "x.crt"), pem);
  const out = (
    await run("openssl", ["x509", "-in", join(dir, "x.crt"), "-noout", "-ext", "extendedKeyUsage"])
  ).stdout;
  await rm(join(dir, "x.crt"));
  return out;
}

/** A fleet's CA and storage material, saved in a new state dir. */
async function withStorage(
  fn: (stateDir: string, ca: Awaited<ReturnType<typeof loadFleetTls>>) => Promise<void>,
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-storage-"));
  try {
    const fleet = await loadFleetTls(stateDir);
    const s3 = await loadS3Tls(stateDir, service, { tls: fleet.grpc, caKey: fleet.caKey, save: fleet.save });
    await fleet.save();
    await s3.save();
    await fn(stateDir, fleet);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test("a new fleet's storage certificates are valid 90 days, for their names, seaweedfs's for both ends", () =>
  withStorage(async (stateDir, fleet) => {
    const { tls } = await loadS3Tls(stateDir, service);
    const ca = new X509Certificate(fleet.grpc.ca);
    for (const pem of [tls.cert, tls.internalCert]) {
      assert.equal(days(pem), LEAF_DAYS);
      assert.ok(new X509Certificate(pem).verify(ca.publicKey));
    }
    assert.deepEqual(sansOf(new X509Certificate(tls.cert)), [...s3Sans(service)].sort());
    assert.deepEqual(sansOf(new X509Certificate(tls.internalCert)), [...SEAWEEDFS_SANS].sort());
    assert.match(await usages(tls.cert, stateDir), /TLS Web Server Authentication\s*$/);
    assert.match(
      await usages(tls.internalCert, stateDir),
      /TLS Web Server Authentication, TLS Web Client Authentication/,
    );
  }));

test("renewal keeps each storage certificate's key, names, subject and usages, and writes only the certificates", () =>
  withStorage(async (stateDir, fleet) => {
    const ca = { cert: fleet.grpc.ca, key: fleet.caKey };
    const dir = join(stateDir, TLS_DIR);
    const { tls } = await loadS3Tls(stateDir, service);
    const keys = await Promise.all(
      ["s3-server.key", "seaweedfs.key"].map((f) => readFile(join(dir, f), "utf8")),
    );
    assert.deepEqual((await renewStorageCerts(stateDir, tls, service, ca)).renewals, [], "nothing due now");
    const due = await renewStorageCerts(stateDir, tls, service, ca, { now: Date.now() + 70 * DAY });
    assert.deepEqual(
      due.renewals.map((r) => [r.name, r.why]),
      [
        ["s3-server", "expires in 19 day(s)"],
        ["seaweedfs", "expires in 19 day(s)"],
      ],
    );
    for (const [was, now] of [
      [tls.cert, due.tls.cert],
      [tls.internalCert, due.tls.internalCert],
    ] as const) {
      const [a, b] = [new X509Certificate(was), new X509Certificate(now)];
      assert.notEqual(a.serialNumber, b.serialNumber);
      assert.equal(b.subject, a.subject);
      assert.deepEqual(sansOf(b), sansOf(a));
      assert.equal(
        b.publicKey.export({ format: "pem", type: "spki" }),
        a.publicKey.export({ format: "pem", type: "spki" }),
      );
      assert.equal(await usages(now, stateDir), await usages(was, stateDir));
      assert.equal(days(now), LEAF_DAYS);
    }
    assert.equal(await readFile(join(dir, "s3-server.crt"), "utf8"), tls.cert, "nothing written before save");
    await due.save();
    assert.equal(await readFile(join(dir, "s3-server.crt"), "utf8"), due.tls.cert);
    assert.equal(await readFile(join(dir, "seaweedfs.crt"), "utf8"), due.tls.internalCert);
    assert.deepEqual(
      await Promise.all(["s3-server.key", "seaweedfs.key"].map((f) => readFile(join(dir, f), "utf8"))),
      keys,
    );
    assert.equal((await loadS3Tls(stateDir, service)).tls.cert, due.tls.cert, "the dir still loads");
    const all = await renewStorageCerts(stateDir, due.tls, service, ca, { renewAll: true });
    assert.deepEqual(
      all.renewals.map((r) => r.why),
      ["rotated", "rotated"],
    );
  }));

test("an expired storage certificate is renewed on its key, not refused", () =>
  withStorage(async (stateDir, fleet) => {
    const dir = join(stateDir, TLS_DIR);
    expireLeaf(
      dir,
      "s3-server.crt",
      "s3-server.key",
      "/CN=thanos-fleet-s3",
      `extendedKeyUsage=serverAuth\nsubjectAltName=${s3Sans(service).join(",")}\n`,
    );
    const { tls } = await loadS3Tls(stateDir, service);
    assert.ok(days(tls.cert) < 0);
    const r = await renewStorageCerts(stateDir, tls, service, { cert: fleet.grpc.ca, key: fleet.caKey });
    assert.deepEqual(
      r.renewals.map((x) => [x.name, x.why]),
      [["s3-server", "expired"]],
    );
    assert.equal(days(r.tls.cert), LEAF_DAYS);
  }));
