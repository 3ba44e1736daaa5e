import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";

/** A TCP server that accepts every connection and never answers. */
async function silentServer(): Promise<{ address: string; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

for (const mode of ["", "--idle-fetch"]) {
  test(`verify against endpoints that accept and never answer ends with a timeout report, not a silent exit${mode ? ` (${mode})` : ""}`, async () => {
    const server = await silentServer();
    try {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(import.meta.dirname, "testdata", "hang-verify.ts"),
          server.address,
          "300",
          ...(mode ? [mode] : []),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        stdout += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.doesNotMatch(stderr, /unsettled top-level await/, stderr);
      assert.equal(code, 0, `exit ${code}: ${stderr}`);
      assert.match(stdout, /stores +FAIL .*no answer in time/, stdout);
    } finally {
      server.close();
    }
  });
}
