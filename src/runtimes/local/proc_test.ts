import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../../testing/net.ts";
import { hasExited, isSameProcess, parseStat, readArgv0, readStat, sessionsRss } from "./proc.ts";
import { tcpOpen } from "./supervisor.ts";

for (const [name, comm] of [
  ["plain", "thanos"],
  ["with spaces", "a b c"],
  ["with parentheses", "x) (y"],
] as const) {
  test(`parseStat: a command name ${name}`, () => {
    // Fields after the name: state(3) ppid pgrp session(6) … utime(14) stime(15) … num_threads(20) itrealvalue
    // starttime(22).
    const stat = parseStat(`4242 (${comm}) S 1 4242 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 555 100 10`);
    assert.deepEqual(stat, {
      pid: 4242,
      state: "S",
      session: 4240,
      threads: 3,
      startTicks: 555,
      cpuTicks: 3,
    });
  });
}

test("parseStat: garbage is undefined", () => {
  assert.equal(parseStat("nonsense"), undefined);
  assert.equal(parseStat("1 (x) S 1"), undefined);
});

test("readStat: the CPU time of this process grows while it computes", () => {
  const before = readStat(process.pid)?.cpuTicks;
  assert.ok(before !== undefined);
  const until = performance.now() + 100;
  while (performance.now() < until) Math.sqrt(Math.random());
  const after = readStat(process.pid)?.cpuTicks;
  assert.ok(after !== undefined && after > before, `cpu ticks ${before} → ${after}`);
});

test("isSameProcess: the live process itself, not after its start time or executable changes", () => {
  const stat = readStat(process.pid);
  assert.ok(stat);
  const argv0 = readArgv0(process.pid);
  assert.ok(argv0);
  const me = { pid: process.pid, startTicks: stat.startTicks, executable: argv0 };
  assert.equal(isSameProcess(me), true);
  assert.equal(isSameProcess({ ...me, startTicks: stat.startTicks + 1 }), false);
  assert.equal(isSameProcess({ ...me, executable: "/bin/something-else" }), false);
});

test("isSameProcess: false once the process has exited; its session's memory is counted while it runs", async () => {
  const child = spawn("/bin/sleep", ["30"], { detached: true, stdio: "ignore" });
  await once(child, "spawn");
  const pid = child.pid as number;
  const stat = readStat(pid);
  assert.ok(stat);
  assert.equal(stat.session, pid, "a detached child leads its own session");
  const id = { pid, startTicks: stat.startTicks, executable: "/bin/sleep" };
  assert.equal(isSameProcess(id), true);
  const rss = sessionsRss(new Set([pid]));
  assert.equal(rss.processes, 1);
  assert.ok(rss.bytes > 0);
  child.kill("SIGKILL");
  await once(child, "exit");
  assert.equal(isSameProcess(id), false);
  assert.equal(sessionsRss(new Set([pid])).processes, 0);
});

// The main thread ends (pthread_exit) while a second thread still runs: the leader is a zombie, the socket open.
const LINGERING_THREAD = `
import ctypes, socket, sys, threading, time
s = socket.socket()
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
threading.Thread(target=lambda: time.sleep(2)).start()
print("listening", flush=True)
ctypes.CDLL(None).pthread_exit(None)
`;

test("hasExited: not while a zombie leader's other threads still hold its socket, only once they are gone", async () => {
  const host = "127.0.0.1";
  const port = await freePort(host);
  const child = spawn("python3", ["-c", LINGERING_THREAD, host, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await once(child.stdout, "data");
  const pid = child.pid as number;
  const start = readStat(pid)?.startTicks as number;
  while (readStat(pid)?.state !== "Z") await sleep(20);
  assert.ok((readStat(pid)?.threads ?? 0) > 1, "the leader is a zombie, its thread still runs");
  assert.equal(hasExited({ pid, startTicks: start }), false);
  assert.equal(await tcpOpen(`${host}:${port}`), true, "the socket is still open");
  await once(child, "exit");
  assert.equal(hasExited({ pid, startTicks: start }), true);
  assert.equal(await tcpOpen(`${host}:${port}`), false);
});
