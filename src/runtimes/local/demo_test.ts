import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { after, describe, test } from "node:test";
import { freePort } from "../../../testing/net.ts";
import { demoScript } from "./processes.ts";

const demo = demoScript();
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** An address no other program uses: a port found free stays free for this test. */
const HOST = "127.254.77.2";

async function waitFor(url: string): Promise<Response> {
  for (let i = 0; i < 100; i++) {
    try {
      return await fetch(url);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

describe("demo workload", () => {
  test("serves /-/ready and counters labelled by its cluster, growing over time", async () => {
    const port = await freePort(HOST);
    const child = spawn(
      process.execPath,
      [...demo.nodeArgs, demo.path, `--listen=${HOST}:${port}`, "--cluster=biz9"],
      {
        stdio: "ignore",
      },
    );
    children.push(child);
    assert.equal((await waitFor(`http://${HOST}:${port}/-/ready`)).status, 200);
    const value = async () => {
      const text = await (await fetch(`http://${HOST}:${port}/metrics`)).text();
      const m = /^fleet_demo_requests_total\{cluster="biz9",path="\/"\} ([0-9]+)$/m.exec(text);
      assert.ok(m, text);
      return Number(m[1]);
    };
    const first = await value();
    await new Promise((r) => setTimeout(r, 1200));
    assert.ok((await value()) > first, "the counter grows");
    assert.equal((await fetch(`http://${HOST}:${port}/nope`)).status, 404);
  });

  for (const [name, args] of [
    ["no --cluster", ["--listen=127.0.0.1:1"]],
    ["no --listen", ["--cluster=x"]],
    ["a --listen without port", ["--listen=127.0.0.1", "--cluster=x"]],
  ] as const) {
    test(`refuses ${name}, exit code 2 with usage`, async () => {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
        execFile(process.execPath, [...demo.nodeArgs, demo.path, ...args], (err, _out, stderr) =>
          resolve({ code: err ? (err.code as number) : 0, stderr }),
        ),
      );
      assert.equal(code, 2);
      assert.match(stderr, /demo: /);
    });
  }
});
