import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { freePort } from "../../../testing/net.ts";
import { isSameProcess, readStat } from "./proc.ts";
import type { ProcessPlan } from "./processes.ts";
import type { ProcessRecord } from "./state.ts";
import { httpReady, ProcessError, startProcess, stopProcesses, tcpOpen } from "./supervisor.ts";

const dir = await mkdtemp(join(tmpdir(), "fleet-supervisor-"));
const started: ProcessRecord[] = [];
after(async () => {
  await stopProcesses(started, 2000);
  await rm(dir, { recursive: true, force: true });
});

/** An address no other program uses, so that "closed" means closed by us (not a port another test took). */
const HOST = "127.254.77.1";

function nodeProcess(name: string, script: string, port: number, readyPath = "/-/ready"): ProcessPlan {
  return {
    id: `test/${name}/main`,
    cluster: "test",
    workload: name,
    pod: name,
    container: "main",
    component: "demo",
    binary: "node",
    ip: HOST,
    args: ["-e", script],
    env: { PATH: process.env.PATH ?? "", PORT: String(port), HOST },
    files: [{ path: join(dir, name, "config", "secret.yml"), content: "key: value\n" }],
    dirs: [join(dir, name)],
    cwd: join(dir, name),
    log: join(dir, name, "main.log"),
    ports: [{ name: "http", port, protocol: "http" }],
    readiness: { kind: "http", url: `http://${HOST}:${port}${readyPath}` },
    stage: 0,
  };
}

const server = `
  const port = Number(process.env.PORT);
  console.log("starting on " + port);
  setTimeout(() => require("node:http").createServer((q, s) => s.writeHead(q.url === "/-/ready" ? 200 : 404).end()).listen(port, process.env.HOST), 300);
`;

const opts = (timeoutMs = 10_000) => ({
  signal: new AbortController().signal,
  readyTimeoutMs: timeoutMs,
  onStarted: async (r: ProcessRecord) => {
    started.push(r);
  },
});

describe("supervisor", () => {
  test("starts a process detached, waits for readiness, writes its files private, then stops it", async () => {
    const port = await freePort(HOST);
    const p = nodeProcess("good", server, port);
    const record = await startProcess(p, process.execPath, opts());
    assert.equal(await httpReady(p.readiness.kind === "http" ? p.readiness.url : ""), true);
    assert.equal(readStat(record.pid)?.session, record.pid, "leads its own session");
    assert.equal((await stat(p.files[0]?.path ?? "")).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "good"))).mode & 0o777, 0o700);
    const result = await stopProcesses([record], 5000);
    assert.deepEqual(
      result.stopped.map((r) => r.id),
      ["test/good/main"],
    );
    assert.equal(isSameProcess(record), false);
    assert.equal(await tcpOpen(`${HOST}:${port}`), false);
  });

  test("a process that exits is named, with the tail of its log", async () => {
    const p = nodeProcess(
      "crash",
      'console.error("bind: address already in use"); process.exit(3)',
      await freePort(HOST),
    );
    await assert.rejects(startProcess(p, process.execPath, opts()), (e: Error) => {
      assert.ok(e instanceof ProcessError);
      assert.match(e.message, /^test\/crash\/main exited with code 3 before it was ready/);
      assert.match(e.message, /bind: address already in use/);
      assert.ok(e.message.includes(p.log));
      return true;
    });
  });

  test("a process that never gets ready is named after the timeout and says what it waited for", async () => {
    const port = await freePort(HOST);
    const p = nodeProcess("slow", server, port, "/never");
    await assert.rejects(startProcess(p, process.execPath, opts(1500)), (e: Error) => {
      assert.match(
        e.message,
        /^test\/slow\/main did not get ready within 2 s \(GET http:\/\/127\.254\.77\.1:[0-9]+\/never never answered 200\)/,
      );
      assert.match(e.message, /starting on/);
      return true;
    });
  });

  test("a missing executable is reported, naming it", async () => {
    const p = nodeProcess("missing", "", await freePort(HOST));
    await assert.rejects(
      startProcess(p, join(dir, "no-such-binary"), opts()),
      /test\/missing\/main cannot start .*no-such-binary/,
    );
  });

  test("stop leaves a recorded pid alone when it now runs another program", async () => {
    const other = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
    await once(other, "spawn");
    const pid = other.pid as number;
    try {
      const stat = readStat(pid);
      assert.ok(stat);
      const record = {
        id: "test/reused/main",
        pid,
        startTicks: stat.startTicks,
        executable: "/usr/bin/thanos",
      } as ProcessRecord;
      const result = await stopProcesses([record], 500);
      assert.deepEqual(result.stopped, []);
      assert.deepEqual(
        result.gone.map((r) => r.id),
        ["test/reused/main"],
      );
      assert.equal(
        isSameProcess({ pid, startTicks: stat.startTicks, executable: "/bin/sleep" }),
        true,
        "still running",
      );
    } finally {
      other.kill("SIGKILL");
    }
  });

  test("a process ignoring SIGTERM is killed after the grace period", async () => {
    const port = await freePort(HOST);
    const p = nodeProcess("stubborn", `process.on("SIGTERM", () => {}); ${server}`, port);
    const record = await startProcess(p, process.execPath, opts());
    const result = await stopProcesses([record], 500);
    assert.deepEqual(
      result.killed.map((r) => r.id),
      ["test/stubborn/main"],
    );
    assert.equal(isSameProcess(record), false);
  });

  test("abort stops the wait", async () => {
    const controller = new AbortController();
    const p = nodeProcess("aborted", server, await freePort(HOST), "/never");
    const run = startProcess(p, process.execPath, { ...opts(), signal: controller.signal });
    setTimeout(() => controller.abort(new Error("interrupted")), 300);
    await assert.rejects(run, /abort|interrupted/i);
  });
});
