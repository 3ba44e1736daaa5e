// One real local fleet: kill -9 of a sidecar, a Prometheus, a query and the object store heals without a command;
// `up` on a partly running fleet starts only what is dead; then every drill scenario keeps its promise.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testFleet } from "../../testing/local/fleet.ts";
import { formatResult } from "../commands/drill.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { hasExited } from "../runtimes/local/proc.ts";
import { localRoot } from "../runtimes/local/processes.ts";
import { type ProcessRecord, readState } from "../runtimes/local/state.ts";
import { supervisorRunning } from "../runtimes/local/supervise.ts";
import { loadTopology } from "../topology/load.ts";
import { formatReport } from "../verify/report.ts";
import { verifyFleetUntil } from "../verify/wait.ts";
import { localFaults } from "./local.ts";
import { runDrill } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.82";
const topology = await loadTopology();
const fleet = await testFleet(topology, { subnet: SUBNET, name: "drill" });
const { runtime, stateDir, upOptions, lines } = fleet;
const root = localRoot(stateDir);
let endpoints: FleetEndpoints;

function step(name: string, timeoutMs: number, fn: () => Promise<void>): void {
  test(name, { timeout: timeoutMs }, async () => {
    try {
      await fn();
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  });
}

async function records(): Promise<ProcessRecord[]> {
  return (await readState(root))?.processes ?? [];
}

async function green(what: string, waitMs = 180_000): Promise<void> {
  const report = await verifyFleetUntil(topology, endpoints, { waitMs });
  assert.ok(report.ok, `${what}: verify is not green:\n${formatReport(report)}`);
}

step("up: the fleet comes up with its supervisor", 300_000, async () => {
  await runtime.up(topology, upOptions);
  endpoints = await runtime.endpoints(topology, { stateDir });
  assert.ok(await supervisorRunning(root), "the supervisor runs after up returned");
  await green("after up");
});

const victims: { what: string; pick: (r: ProcessRecord) => boolean }[] = [
  { what: "a sidecar", pick: (r) => r.component === "sidecar" && r.cluster === "biz1" },
  { what: "a Prometheus", pick: (r) => r.component === "prometheus" && r.cluster === "biz2" },
  { what: "a query", pick: (r) => r.component === "query" },
  {
    what: "the object store",
    pick: (r) => r.cluster === topology.storage?.name && r.component !== "load-balancer",
  },
];

for (const v of victims) {
  step(`kill -9 ${v.what}: it is back and verify is green without any command`, 300_000, async () => {
    const before = (await records()).filter(v.pick);
    assert.ok(before.length > 0, `the fleet has ${v.what}`);
    const target = before[0] as ProcessRecord;
    process.kill(target.pid, "SIGKILL");
    const deadline = Date.now() + 60_000;
    let now: ProcessRecord | undefined;
    for (;;) {
      now = (await records()).find((r) => r.id === target.id);
      if (now && now.pid !== target.pid && !hasExited(now)) break;
      assert.ok(Date.now() < deadline, `${target.id} was not started again within 60 s`);
      await sleep(500);
    }
    assert.equal(now.restarts, target.restarts + 1, "its restart is counted");
    const row = (await runtime.status(topology, { stateDir })).find(
      (r) => r.cluster === target.cluster && r.pod === target.pod && r.component === target.component,
    );
    assert.equal(row?.restarts, target.restarts + 1, "status shows the restart");
    await green(`after kill -9 of ${target.id}`);
  });
}

step("up on a partly running fleet starts only what is dead and leaves the rest alone", 300_000, async () => {
  const supervisor = await supervisorRunning(root);
  assert.ok(supervisor);
  // Without its supervisor, a killed process stays dead until up.
  process.kill(supervisor.pid, "SIGKILL");
  const all = await records();
  const dead = all.find((r) => r.component === "store") as ProcessRecord;
  process.kill(dead.pid, "SIGKILL");
  while (!hasExited(dead)) await sleep(100);
  const seen = lines.length;
  await runtime.up(topology, upOptions);
  const said = lines.slice(seen).join("\n");
  assert.match(said, new RegExp(`start\\s+${dead.id.replaceAll("/", "\\/")}\\s+was not running`), said);
  assert.match(said, new RegExp(`${all.length - 1} process\\(es\\) unchanged`), said);
  const after = await records();
  for (const r of all.filter((x) => x.id !== dead.id)) {
    assert.equal(after.find((x) => x.id === r.id)?.pid, r.pid, `${r.id} left untouched`);
  }
  assert.ok(await supervisorRunning(root), "up started the supervisor again");
  await green("after up converged");
});

step("drill: every scenario keeps its promise", 2_400_000, async () => {
  const report = await runDrill(topology, endpoints, localFaults(topology, stateDir), scenarios(topology), {
    signal: new AbortController().signal,
    onProgress: (line) => lines.push(line),
  });
  const text = report.scenarios.map((s) => formatResult(s).join("  ")).join("\n");
  process.stderr.write(`${text}\n`);
  assert.deepEqual(
    report.scenarios.map((s) => s.id),
    scenarios(topology).map((s) => s.id),
  );
  for (const s of report.scenarios) assert.ok(s.ok, `${s.id} broke its promise:\n${text}`);
  assert.ok(report.ok);
});
