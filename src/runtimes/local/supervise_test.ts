// The supervisor's loop against real processes: a killed process starts again from its record with its restart
// counted, a second death in a row waits out the back-off, a held process stays down until released.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { hasExited } from "./proc.ts";
import {
  type FleetState,
  HOLDS_FILE,
  type ProcessRecord,
  readState,
  readSupervisor,
  removeState,
  writeHolds,
  writeState,
} from "./state.ts";
import { BACKOFF, processState, restartDelay, supervise, superviseCommand } from "./supervise.ts";
import { spawnDetached, stopProcesses } from "./supervisor.ts";

const root = await mkdtemp(join(tmpdir(), "fleet-supervise-"));
const controller = new AbortController();
let running: Promise<void> | undefined;
after(async () => {
  controller.abort();
  await running;
  const state = await readState(root);
  if (state) await stopProcesses(state.processes, 1000);
  await rm(root, { recursive: true, force: true });
});

test("back-off: the first restart at once, then 10 s doubling, capped at 5 min", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelay),
    [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000],
  );
  assert.equal(BACKOFF.resetAfterMs, 600_000);
});

async function record(id: string): Promise<ProcessRecord> {
  const spec = {
    id,
    executable: process.execPath,
    args: ["-e", "console.log('up', process.pid); setInterval(() => {}, 1000)"],
    env: { PATH: process.env.PATH ?? "" },
    cwd: root,
    log: join(root, `${id.replaceAll("/", "_")}.log`),
  };
  const child = await spawnDetached(spec);
  return {
    ...spec,
    cluster: "test",
    workload: id,
    pod: id,
    container: "main",
    component: "demo",
    pid: child.pid,
    startTicks: child.startTicks,
    ip: "127.0.0.1",
    ports: [],
    readiness: { kind: "tcp", addresses: [] },
    startedAt: new Date().toISOString(),
    specHash: "x",
    restarts: 0,
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(50);
  }
}

const find = async (id: string) => (await readState(root))?.processes.find((r) => r.id === id);

test("a killed process starts again from its record; a second death waits out the back-off", async () => {
  const a = await record("a");
  const b = await record("b");
  const state: FleetState = {
    version: 1,
    runtime: "local",
    startedAt: new Date().toISOString(),
    complete: true,
    options: { subnet: "127.1", blockDuration: "2m", bucketSyncInterval: "15s" },
    processes: [a, b],
    listen: [],
    urls: [],
    endpoints: { targets: [], grpc: [] } as unknown as FleetState["endpoints"],
  };
  await writeState(root, state);
  running = supervise(root, { signal: controller.signal, tickMs: 50 });

  await until("the first run's line in the log", async () =>
    /up [0-9]+\n/.test(await readFile(a.log, "utf8")) ? true : undefined,
  );
  process.kill(a.pid, "SIGKILL");
  const again = await until("a restarted", async () => {
    const r = await find("a");
    return r && r.pid !== a.pid && !hasExited(r) ? r : undefined;
  });
  assert.equal(again.restarts, 1);
  assert.equal(again.lastExit, "was found gone");
  const untouched = await find("b");
  assert.equal(untouched?.pid, b.pid, "the other process is left alone");
  assert.equal(untouched?.restarts, 0);
  // The log is kept and appended to: both runs' lines are in it.
  await until("the second run's line in the log", async () =>
    /up [0-9]+\nup [0-9]+\n/.test(await readFile(a.log, "utf8")) ? true : undefined,
  );

  process.kill(again.pid, "SIGKILL");
  const waiting = await until("a in back-off", async () => {
    const r = await find("a");
    return r?.nextStartAt ? r : undefined;
  });
  assert.equal(
    waiting.lastExit,
    "was killed by SIGKILL",
    "a process the supervisor started: its exit is known",
  );
  const wait = Date.parse(waiting.nextStartAt as string) - Date.now();
  assert.ok(wait > 5_000 && wait <= 10_000, `second restart in a row waits about 10 s, not ${wait} ms`);
  assert.match(processState(waiting, new Set()), /^CrashLoopBackOff \(next start in [0-9]+ s\)$/);
});

test("a held process stays down until the hold is lifted, then starts at once", async () => {
  const b = await find("b");
  assert.ok(b);
  await writeHolds(root, ["b"]);
  process.kill(b.pid, "SIGKILL");
  await sleep(500);
  const held = await find("b");
  assert.ok(held && hasExited(held), "held down");
  assert.equal(processState(held, new Set(["b"])), "held down");
  await writeHolds(root, []);
  const back = await until("b restarted", async () => {
    const r = await find("b");
    return r && r.pid !== b.pid && !hasExited(r) ? r : undefined;
  });
  assert.equal(back.restarts, 1);
});

test("a hold written and its process killed while the supervisor is mid-tick is kept: the held process stays down", async () => {
  // Its own fleet and loop: the clock the loop reads is the seam that puts the hold and the kill mid-tick.
  const dir = await mkdtemp(join(tmpdir(), "fleet-supervise-hold-"));
  const first = await record("first");
  const held = await record("held");
  for (const r of [first, held]) r.log = join(dir, `${r.id}.log`);
  const state: FleetState = {
    version: 1,
    runtime: "local",
    startedAt: new Date().toISOString(),
    complete: true,
    options: { subnet: "127.1", blockDuration: "2m", bucketSyncInterval: "15s" },
    processes: [first, held],
    listen: [],
    urls: [],
    endpoints: { targets: [], grpc: [] } as unknown as FleetState["endpoints"],
  };
  await writeState(dir, state);
  let armed = false;
  let fired = false;
  // Called by the loop as it handles the dead `first`, after the tick began: the drill's order, hold then kill.
  const now = () => {
    if (armed && hasExited(first)) {
      armed = false;
      writeFileSync(join(dir, HOLDS_FILE), JSON.stringify(["held"]));
      process.kill(held.pid, "SIGKILL");
      const deadline = Date.now() + 5000;
      while (!hasExited(held) && Date.now() < deadline) {}
      fired = true;
    }
    return Date.now();
  };
  const stop = new AbortController();
  const loop = supervise(dir, { signal: stop.signal, tickMs: 100, now });
  try {
    armed = true;
    process.kill(first.pid, "SIGKILL");
    const restarted = await until("first restarted", async () => {
      const r = (await readState(dir))?.processes.find((x) => x.id === "first");
      return r && r.pid !== first.pid && !hasExited(r) ? r : undefined;
    });
    assert.ok(fired, "the hold and the kill happened while the loop handled the dead process");
    // A few more ticks: the held process is never started again.
    await sleep(1000);
    const after = (await readState(dir))?.processes.find((x) => x.id === "held");
    assert.equal(
      after?.pid,
      held.pid,
      `held stays down, not started again (supervisor log: ${await readFile(join(dir, "supervisor.log"), "utf8")})`,
    );
    assert.ok(after && hasExited(after));
    assert.equal(after.restarts, 0);
    assert.equal(restarted.restarts, 1);
  } finally {
    stop.abort();
    await loop;
    const left = await readState(dir);
    if (left) await stopProcesses(left.processes, 1000);
    await rm(dir, { recursive: true, force: true });
  }
});

test("a supervisor started before the fleet is up records itself, watches nothing until up marks the fleet complete, and leaves when up removes the fleet", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "fleet-supervise-early-"));
  const fleetRoot = join(stateDir, "local");
  const dead = await record("early/dead");
  await stopProcesses([dead], 1000);
  const state: FleetState = {
    version: 1,
    runtime: "local",
    startedAt: new Date().toISOString(),
    complete: false,
    options: { subnet: "127.1", blockDuration: "2m", bucketSyncInterval: "15s" },
    processes: [dead],
    listen: [],
    urls: [],
    endpoints: { targets: [], grpc: [] } as unknown as FleetState["endpoints"],
  };
  try {
    await writeState(fleetRoot, state);
    const first = superviseCommand(stateDir, { afterUp: true });
    await until("its record", async () => (await readSupervisor(fleetRoot).catch(() => undefined))?.pid);
    await sleep(300);
    assert.equal(
      (await readState(fleetRoot))?.processes[0]?.restarts,
      0,
      "nothing restarted before complete",
    );
    await writeState(fleetRoot, { ...state, complete: true });
    const restarted = await until("the dead process started again", async () => {
      const r = (await readState(fleetRoot))?.processes[0];
      return r && r.restarts > 0 ? r : undefined;
    });
    process.emit("SIGTERM");
    await first;
    await stopProcesses([restarted], 1000);
    assert.equal(await readSupervisor(fleetRoot).catch(() => undefined), undefined, "its record is removed");

    // up failed: the state it had written is gone, and the supervisor started early goes too.
    await writeState(fleetRoot, { ...state, complete: false });
    const second = superviseCommand(stateDir, { afterUp: true });
    await until("its record", async () => (await readSupervisor(fleetRoot).catch(() => undefined))?.pid);
    await removeState(fleetRoot);
    await second;
    assert.equal(await readSupervisor(fleetRoot).catch(() => undefined), undefined);
  } finally {
    const left = await readState(fleetRoot).catch(() => undefined);
    if (left) await stopProcesses(left.processes, 1000);
    await rm(stateDir, { recursive: true, force: true });
  }
});
