import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  LEAF_DAYS,
  listCertificates,
  loadServerLeaves,
  type SigningCa,
  sansOf,
  serversDir,
} from "./server-certs.ts";
import { loadFleetTls, loadOrCreateFleetTls } from "./tls.ts";

const DAY = 86_400_000;
const sidecar = { name: "biz1/thanos-sidecar-0/thanos-sidecar", sans: ["IP:127.77.1.5", "IP:127.77.1.1"] };
const query = { name: "mgmt/thanos-query-0/thanos-query", sans: ["IP:127.77.0.9", "IP:127.77.0.20"] };

async function fleetCa(stateDir: string): Promise<SigningCa> {
  await loadOrCreateFleetTls(stateDir);
  const { grpc, caKey } = await loadFleetTls(stateDir);
  return { cert: grpc.ca, key: await caKey() };
}

async function withState(fn: (stateDir: string, ca: SigningCa) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-leaves-"));
  try {
    await fn(stateDir, await fleetCa(stateDir));
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test("each server gets its own certificate: exactly its addresses, 90 days, from the fleet CA, key 0600, kept", async () => {
  await withState(async (stateDir, ca) => {
    const first = await loadServerLeaves(stateDir, [sidecar, query], ca);
    assert.deepEqual(
      first.renewals.map((r) => [r.name, r.why]),
      [
        [sidecar.name, "new"],
        [query.name, "new"],
      ],
    );
    await first.save();
    const caCert = new X509Certificate(ca.cert);
    for (const req of [sidecar, query]) {
      const leaf = first.leaves.get(req.name);
      assert.ok(leaf);
      const cert = new X509Certificate(leaf.cert);
      assert.deepEqual(sansOf(cert), [...req.sans].sort(), "exactly the addresses asked for, nothing shared");
      assert.ok(cert.verify(caCert.publicKey), "signed by the fleet CA");
      assert.equal(cert.ca, false);
      const days = Math.round((Date.parse(cert.validTo) - Date.now()) / DAY);
      assert.ok(days >= LEAF_DAYS - 1 && days <= LEAF_DAYS, `${days} days`);
    }
    assert.notEqual(
      first.leaves.get(sidecar.name)?.key,
      first.leaves.get(query.name)?.key,
      "a key per server",
    );
    const dir = serversDir(stateDir);
    assert.equal((await stat(join(dir, "biz1.thanos-sidecar-0.thanos-sidecar.key"))).mode & 0o777, 0o600);
    const again = await loadServerLeaves(stateDir, [sidecar, query], ca);
    assert.equal(again.renewals.length, 0, "a second load reuses them");
    assert.deepEqual(again.leaves, first.leaves);
  });
});

test("renewal keeps the key and replaces the certificate: all with renewAll, near expiry, or new addresses", async () => {
  await withState(async (stateDir, ca) => {
    const first = await loadServerLeaves(stateDir, [sidecar, query], ca);
    await first.save();
    const serial = (pem?: string) => new X509Certificate(pem ?? "").serialNumber;

    const all = await loadServerLeaves(stateDir, [sidecar, query], ca, { renewAll: true });
    assert.deepEqual(
      all.renewals.map((r) => r.why),
      ["rotated", "rotated"],
    );
    for (const req of [sidecar, query]) {
      const before = first.leaves.get(req.name);
      const after = all.leaves.get(req.name);
      assert.equal(after?.key, before?.key, "the key stays: one rename replaces the pair");
      assert.notEqual(serial(after?.cert), serial(before?.cert), "a new certificate");
    }

    // 70 days on, 20 are left: renewed; the addresses changed: renewed; else kept.
    const later = await loadServerLeaves(stateDir, [sidecar, query], ca, { now: Date.now() + 70 * DAY });
    assert.match(later.renewals[0]?.why ?? "", /^expires in 1\d day\(s\)$/);
    const moved = { ...query, sans: ["IP:127.77.0.10"] };
    const changed = await loadServerLeaves(stateDir, [sidecar, moved], ca);
    assert.deepEqual(
      changed.renewals.map((r) => r.name),
      [query.name],
    );
    assert.match(changed.renewals[0]?.why ?? "", /addresses changed/);
    assert.deepEqual(sansOf(new X509Certificate(changed.leaves.get(query.name)?.cert ?? "")), [
      "IP:127.77.0.10",
    ]);
  });
});

test("a server's certificate without its key, or one from another CA, is refused (exit 2) and nothing is changed", async () => {
  await withState(async (stateDir, ca) => {
    const first = await loadServerLeaves(stateDir, [sidecar, query], ca);
    await first.save();
    const dir = serversDir(stateDir);
    await rm(join(dir, "mgmt.thanos-query-0.thanos-query.key"));
    await writeFile(join(dir, "notes.txt"), "mine");
    const before = await readdir(dir);
    await assert.rejects(
      loadServerLeaves(stateDir, [sidecar, query], ca),
      (e: Error & { exitCode?: number }) => {
        assert.equal(e.exitCode, 2);
        assert.match(e.message, /mgmt\.thanos-query-0\.thanos-query\.key is missing beside .*\.crt/);
        assert.match(e.message, /Nothing was changed\.\n {2}fix: /);
        return true;
      },
    );
    assert.deepEqual(await readdir(dir), before);
    assert.equal(await readFile(join(dir, "notes.txt"), "utf8"), "mine");

    const other = await mkdtemp(join(tmpdir(), "fleet-leaves-other-"));
    try {
      const foreign = await fleetCa(other);
      await assert.rejects(loadServerLeaves(stateDir, [sidecar], foreign), /not signed by the fleet CA/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

test("certs lists the CA first, every shared and per-server certificate with who uses it, and what expired", async () => {
  await withState(async (stateDir, ca) => {
    await (await loadServerLeaves(stateDir, [sidecar], ca)).save();
    const now = await listCertificates(stateDir);
    assert.deepEqual(
      now.map((c) => c.file),
      [
        "ca.crt",
        "grpc-client.crt",
        "grpc-server.crt",
        "http-client.crt",
        "http-server.crt",
        "servers/biz1.thanos-sidecar-0.thanos-sidecar.crt",
      ],
    );
    assert.equal(now[0]?.isCa, true);
    const mine = now[5];
    assert.equal(mine?.usedBy, "local: biz1/thanos-sidecar-0/thanos-sidecar (its gRPC and HTTPS ports)");
    assert.deepEqual(mine?.sans, ["IP:127.77.1.1", "IP:127.77.1.5"]);
    assert.ok(now.every((c) => c.problem === undefined));
    const later = await listCertificates(stateDir, Date.now() + 100 * DAY);
    assert.equal(later[5]?.problem, "expired");
    assert.equal(later[0]?.problem, undefined, "the CA lives ten years");
  });
});
