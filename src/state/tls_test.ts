import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { GRPC_SERVER_NAME, loadOrCreateGrpcTls, TLS_DIR } from "./tls.ts";

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
