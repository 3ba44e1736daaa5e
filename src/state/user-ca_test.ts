import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../topology/errors.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { loadServerLeaves } from "./server-certs.ts";
import { loadFleetTls, loadOrCreateFleetTls, TLS_DIR } from "./tls.ts";
import { loadIssuerCa, loadUserCa, trustBundle } from "./user-ca.ts";

const openssl = (dir: string, ...args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A self-signed certificate that is not a CA (basicConstraints CA:FALSE) in `dir`: leaf.crt, leaf.key. */
function notACa(dir: string): void {
  openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "leaf.key");
  openssl(
    ...[dir, "req", "-x509", "-new", "-key", "leaf.key", "-subj", "/CN=leaf"],
    ...["-addext", "basicConstraints=critical,CA:FALSE", "-days", "5", "-out", "leaf.crt"],
  );
}

/** A CA of the user's own in `dir` (ca.crt, ca.key), and a leaf it signed (leaf.crt, leaf.key). */
function userCa(dir: string, name = "ca"): void {
  openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
  openssl(
    dir,
    "req",
    "-x509",
    "-new",
    "-key",
    `${name}.key`,
    "-subj",
    "/CN=My Org CA",
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    `${name}.crt`,
  );
}

function topologyWith(ca: { cert: string; key: string }) {
  return parseFleet({ ...DEFAULT_FLEET, tls: { ca } }, "/fleets/fleet.yaml");
}

async function withDirs(fn: (own: string, stateDir: string) => Promise<void>): Promise<void> {
  const own = await mkdtemp(join(tmpdir(), "fleet-user-ca-"));
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-user-ca-state-"));
  try {
    userCa(own);
    await fn(own, stateDir);
  } finally {
    await rm(own, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
}

test("tls.ca: the user's CA signs every certificate of the fleet, and its key is not copied into the state dir", async () => {
  await withDirs(async (own, stateDir) => {
    const topology = topologyWith({ cert: join(own, "ca.crt"), key: join(own, "ca.key") });
    const ca = await loadUserCa(topology);
    assert.ok(ca);
    const { grpc, http, caKey, save } = await loadFleetTls(stateDir, ca);
    await save();
    const caCert = new X509Certificate(ca.cert);
    for (const pem of [grpc.cert, grpc.clientCert, http.cert, http.clientCert]) {
      assert.ok(new X509Certificate(pem).verify(caCert.publicKey), "signed by the user's CA");
    }
    const files = await readdir(join(stateDir, TLS_DIR));
    assert.ok(!files.includes("ca.key"), `no CA key in the state dir: ${files.join(", ")}`);
    assert.equal(await readFile(join(stateDir, TLS_DIR, "ca.crt"), "utf8"), ca.cert);
    assert.equal(await caKey(), ca.key, "leaves are signed with the key where the user keeps it");
    const leaves = await loadServerLeaves(stateDir, [{ name: "mgmt/q/q", sans: ["IP:127.77.0.9"] }], {
      cert: ca.cert,
      key: ca.key,
    });
    assert.ok(new X509Certificate(leaves.leaves.get("mgmt/q/q")?.cert ?? "").verify(caCert.publicKey));
    // A second load uses what is there.
    const again = await loadFleetTls(stateDir, ca);
    assert.equal(again.grpc.cert, grpc.cert);
  });
});

test("tls.ca that cannot sign is refused at its field before anything is written: wrong key, not a CA, missing, expired", async () => {
  await withDirs(async (own) => {
    userCa(own, "other");
    notACa(own);
    const cases: [{ cert: string; key: string }, RegExp, RegExp][] = [
      [{ cert: "ca.crt", key: "other.key" }, /tls\.ca\.key/, /is not the key of/],
      [{ cert: "leaf.crt", key: "leaf.key" }, /tls\.ca\.cert/, /is not a CA certificate/],
      [{ cert: "ca.crt", key: "missing.key" }, /tls\.ca\.key/, /cannot be read \(ENOENT\)/],
    ];
    for (const [given, field, why] of cases) {
      const topology = topologyWith({ cert: join(own, given.cert), key: join(own, given.key) });
      await assert.rejects(loadUserCa(topology), (e: Error) => {
        assert.ok(e instanceof ConfigError, e.message);
        assert.match(e.message, field);
        assert.match(e.message, why);
        return true;
      });
    }
    const topology = topologyWith({ cert: join(own, "ca.crt"), key: join(own, "ca.key") });
    await assert.rejects(loadUserCa(topology, Date.now() + 40 * 86_400_000), /not now/);
  });
});

test("tls.ca beside a tls dir thanos-fleet made from its own CA is refused, and nothing in it changes", async () => {
  await withDirs(async (own, stateDir) => {
    await loadOrCreateFleetTls(stateDir);
    const before = await readdir(join(stateDir, TLS_DIR));
    const ca = await loadUserCa(topologyWith({ cert: join(own, "ca.crt"), key: join(own, "ca.key") }));
    await assert.rejects(loadFleetTls(stateDir, ca), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(
        e.message,
        /holds a CA thanos-fleet made \(ca\.key\)\. Nothing was changed\.\n {2}fix: move /,
      );
      return true;
    });
    assert.deepEqual(await readdir(join(stateDir, TLS_DIR)), before);
  });
});

test("tls.issuer.ca: read and checked like the user's CA certificate (a CA, valid now), exit 2 at its field", async () => {
  await withDirs(async (own) => {
    notACa(own);
    await writeFile(join(own, "junk.pem"), "not a certificate\n");
    const issuer = (ca: string) =>
      parseFleet({ ...DEFAULT_FLEET, tls: { issuer: { name: "fleet-ca", ca } } }, "/fleets/fleet.yaml");
    for (const [file, why] of [
      ["missing.pem", /cannot be read \(ENOENT\)/],
      ["junk.pem", /is not a PEM certificate/],
      ["leaf.crt", /is not a CA certificate/],
    ] as const) {
      await assert.rejects(loadIssuerCa(issuer(join(own, file))), (e: Error) => {
        assert.ok(e instanceof ConfigError, e.message);
        assert.equal(e.exitCode, 2);
        assert.equal(e.problems[0]?.field, "tls.issuer.ca");
        assert.match(e.message, why);
        assert.match(
          e.message,
          /point tls\.issuer\.ca at the PEM certificate of the CA your ClusterIssuer fleet-ca/,
        );
        return true;
      });
    }
    const good = issuer(join(own, "ca.crt"));
    await assert.rejects(loadIssuerCa(good, Date.now() + 40 * 86_400_000), /not now/);
    const pem = await loadIssuerCa(good);
    assert.equal(pem, await readFile(join(own, "ca.crt"), "utf8"));
    assert.equal(await loadIssuerCa(parseFleet(DEFAULT_FLEET, "/fleets/fleet.yaml")), undefined);
    const bundle = trustBundle("FLEET\n", pem);
    assert.equal(bundle, `FLEET\n${pem}`, "both CAs, the fleet's first");
    assert.equal(trustBundle(bundle, pem), bundle, "a bundle that has it already is kept");
  });
});
