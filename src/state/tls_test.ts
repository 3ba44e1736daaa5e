import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { expireLeaf } from "../../testing/test-ca.ts";
import {
  GRPC_SERVER_NAME,
  HTTP_SERVER_NAME,
  loadFleetTls,
  loadGrpcTls,
  loadOrCreateFleetTls,
  loadOrCreateGrpcTls,
  loadS3Tls,
  S3_SERVER_NAME,
  TLS_DIR,
} from "./tls.ts";

test("the fleet's gRPC certificates chain to its CA, keys are private, and a second run reuses them", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  try {
    const first = await loadOrCreateGrpcTls(stateDir);
    const dir = join(stateDir, TLS_DIR);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
    assert.match(
      openssl("verify", "-CAfile", "ca.crt", "grpc-server.crt", "grpc-client.crt"),
      /server.crt: OK\n.*client.crt: OK/,
    );
    const server = openssl(
      "x509",
      "-in",
      "grpc-server.crt",
      "-noout",
      "-ext",
      "subjectAltName,extendedKeyUsage",
    );
    assert.match(server, new RegExp(`DNS:${GRPC_SERVER_NAME}`));
    assert.match(server, /Server Authentication/);
    assert.match(
      openssl("x509", "-in", "grpc-client.crt", "-noout", "-ext", "extendedKeyUsage"),
      /Client Authentication/,
    );
    for (const key of ["ca.key", "grpc-server.key", "grpc-client.key"]) {
      assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key);
    }
    assert.deepEqual(await loadOrCreateGrpcTls(stateDir), first);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("a partly filled TLS dir is refused, naming what is missing, and nothing in it is removed or replaced", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  try {
    await loadOrCreateGrpcTls(stateDir);
    const dir = join(stateDir, TLS_DIR);
    await rm(join(dir, "grpc-client.key"));
    await writeFile(join(dir, "notes.txt"), "mine");
    const before = await readdir(dir);
    const caBefore = await readFile(join(dir, "ca.crt"), "utf8");
    await assert.rejects(loadGrpcTls(stateDir), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /incomplete: grpc-client\.key missing/);
      assert.match(e.message, /fix: /);
      return true;
    });
    assert.deepEqual(await readdir(dir), before);
    assert.equal(await readFile(join(dir, "ca.crt"), "utf8"), caBefore);
    assert.equal(await readFile(join(dir, "notes.txt"), "utf8"), "mine");
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("complete material that does not fit together is refused: a key of another certificate, a foreign CA", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  const other = await mkdtemp(join(tmpdir(), "fleet-tls-other-"));
  try {
    await loadOrCreateGrpcTls(stateDir);
    await loadOrCreateGrpcTls(other);
    const dir = join(stateDir, TLS_DIR);
    const serverKey = await readFile(join(dir, "grpc-server.key"));
    await copyFile(join(other, TLS_DIR, "grpc-server.key"), join(dir, "grpc-server.key"));
    await assert.rejects(loadGrpcTls(stateDir), /grpc-server\.key is not the key of grpc-server\.crt/);
    await writeFile(join(dir, "grpc-server.key"), serverKey);
    for (const f of ["ca.crt", "ca.key"]) await copyFile(join(other, TLS_DIR, f), join(dir, f));
    await assert.rejects(loadGrpcTls(stateDir), /is not signed by ca\.crt/);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  }
});

test("an expired CA is refused before anything starts; an expired shared certificate is renewed on its key", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  try {
    await loadOrCreateGrpcTls(stateDir);
    const dir = join(stateDir, TLS_DIR);
    // The shared stand-in (a render before any up) from the same CA and key, expired yesterday: renewed in memory.
    expireLeaf(
      dir,
      "grpc-server.crt",
      "grpc-server.key",
      `/CN=${GRPC_SERVER_NAME}`,
      `subjectAltName=DNS:${GRPC_SERVER_NAME}\n`,
    );
    const key = await readFile(join(dir, "grpc-server.key"), "utf8");
    const renewed = await loadGrpcTls(stateDir);
    const cert = new X509Certificate(renewed.tls.cert);
    assert.ok(Date.parse(cert.validTo) > Date.now() + 80 * 86_400_000, cert.validTo);
    assert.ok(cert.checkPrivateKey(createPrivateKey(key)), "on its key");
    assert.ok(cert.verify(new X509Certificate(renewed.tls.ca).publicKey));
    await renewed.save();
    assert.equal(await readFile(join(dir, "grpc-server.crt"), "utf8"), renewed.tls.cert);
    // The CA itself, expired: every certificate hangs on it, so it is refused.
    expireLeaf(
      dir,
      "ca.crt",
      "ca.key",
      "/CN=thanos-fleet CA",
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    await assert.rejects(loadGrpcTls(stateDir), /ca\.crt has expired/);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("a TLS dir made by hand with other files gets the material beside them", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  try {
    await mkdir(join(stateDir, TLS_DIR));
    await writeFile(join(stateDir, TLS_DIR, "README"), "mine");
    const tls = await loadOrCreateGrpcTls(stateDir);
    assert.equal(await readFile(join(stateDir, TLS_DIR, "README"), "utf8"), "mine");
    assert.deepEqual(await loadOrCreateGrpcTls(stateDir), tls);
    assert.deepEqual((await readdir(stateDir)).sort(), [TLS_DIR]);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("the HTTP leaves chain to the fleet CA; a tls dir made before them gets them beside its CA; a part of them is refused", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  try {
    const dir = join(stateDir, TLS_DIR);
    await loadOrCreateFleetTls(stateDir);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
    // As a tls dir from before the HTTP leaves: only the CA and the gRPC set.
    for (const f of ["http-server.crt", "http-server.key", "http-client.crt", "http-client.key"]) {
      await rm(join(dir, f));
    }
    const caBefore = await readFile(join(dir, "ca.crt"), "utf8");
    const { http } = await loadOrCreateFleetTls(stateDir);
    assert.equal(http.ca, caBefore);
    assert.match(
      openssl("verify", "-CAfile", "ca.crt", "http-server.crt", "http-client.crt"),
      /server.crt: OK\n.*client.crt: OK/,
    );
    const server = openssl("x509", "-in", "http-server.crt", "-noout", "-ext", "subjectAltName");
    assert.match(server, new RegExp(`DNS:${HTTP_SERVER_NAME}, DNS:localhost, IP Address:127.0.0.1`));
    for (const key of ["http-server.key", "http-client.key"]) {
      assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key);
    }
    assert.deepEqual((await loadOrCreateFleetTls(stateDir)).http, http);

    await rm(join(dir, "http-client.key"));
    const before = await readdir(dir);
    await assert.rejects(loadFleetTls(stateDir), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /incomplete: http-client\.key missing/);
      return true;
    });
    assert.deepEqual(await readdir(dir), before);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("the storage cluster's leaves are signed by the one fleet CA, loaded with the gRPC material or alone", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-tls-state-"));
  const service = { name: "seaweedfs", namespace: "monitoring" };
  try {
    // As up does: the gRPC material first, its CA handed on; both saved, the gRPC material first.
    const grpc = await loadGrpcTls(stateDir);
    const s3 = await loadS3Tls(stateDir, service, grpc);
    await grpc.save();
    await s3.save();
    const dir = join(stateDir, TLS_DIR);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
    assert.equal(s3.tls.ca, grpc.tls.ca);
    assert.match(
      openssl("verify", "-CAfile", "ca.crt", "grpc-server.crt", "s3-server.crt", "seaweedfs.crt"),
      /grpc-server.crt: OK\n.*s3-server.crt: OK\n.*seaweedfs.crt: OK/,
    );
    const sans = openssl("x509", "-in", "s3-server.crt", "-noout", "-ext", "subjectAltName");
    for (const name of [
      S3_SERVER_NAME,
      "seaweedfs.monitoring.svc",
      "seaweedfs.monitoring.svc.cluster.local",
    ]) {
      assert.match(sans, new RegExp(`DNS:${name.replaceAll(".", "\\.")}(,|\\n)`));
    }
    assert.match(
      openssl("x509", "-in", "seaweedfs.crt", "-noout", "-ext", "extendedKeyUsage"),
      /Server Authentication, TLS Web Client Authentication|Client Authentication/,
    );
    for (const key of ["s3-server.key", "seaweedfs.key"]) {
      assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key);
    }
    // A second run, alone, reads the same material.
    assert.deepEqual((await loadS3Tls(stateDir, service)).tls, s3.tls);
    // Half of it gone: refused, nothing replaced.
    await rm(join(dir, "seaweedfs.key"));
    const caBefore = await readFile(join(dir, "ca.crt"), "utf8");
    await assert.rejects(loadS3Tls(stateDir, service), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /incomplete: seaweedfs\.key missing/);
      return true;
    });
    assert.equal(await readFile(join(dir, "ca.crt"), "utf8"), caBefore);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
