// The object-store drill scenario again and again on one real local fleet, then `down`: each time the store comes
// back, the supervisor never starts the held store during its hold, and `down` leaves nothing listening.
// THANOS_FLEET_DRILL_REPEAT sets the count (default 2; the scenario holds the store down two block periods each).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { testFleet } from "../../testing/local/fleet.ts";
import { formatResult } from "../commands/drill.ts";
import { stillOpen } from "../runtimes/local/ports.ts";
import { localRoot } from "../runtimes/local/processes.ts";
import { readState } from "../runtimes/local/state.ts";
import { loadTopology } from "../topology/load.ts";
import { localFaults } from "./local.ts";
import { runDrill } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.84";
const REPEAT = Number(process.env.THANOS_FLEET_DRILL_REPEAT ?? 2);
const topology = await loadTopology();
const fleet = await testFleet(topology, { subnet: SUBNET, name: "drill-object-store" });
const root = localRoot(fleet.stateDir);

test(
  `object store down and back ${REPEAT} times, then down leaves nothing listening`,
  { timeout: REPEAT * 900_000 + 600_000 },
  async () => {
    try {
      const endpoints = await fleet.upGreen();
      const chosen = scenarios(topology).filter((s) => s.id === "object-store");
      for (let i = 1; i <= REPEAT; i++) {
        const report = await runDrill(topology, endpoints, localFaults(topology, fleet.stateDir), chosen, {
          signal: new AbortController().signal,
          onProgress: (line) => fleet.lines.push(`#${i} ${line}`),
        });
        const text = report.scenarios.map((s) => formatResult(s).join("  ")).join("\n");
        process.stderr.write(`#${i}: ${text}\n`);
        assert.ok(report.ok, `run ${i}: ${text}`);
      }
      // The supervisor's log: the store was never started while it was held.
      const log = await readFile(join(root, "supervisor.log"), "utf8");
      const listen = (await readState(root))?.listen ?? [];
      await fleet.runtime.down(topology, { ...fleet.upOptions, purge: false });
      assert.deepEqual(await stillOpen(listen), [], `after down; supervisor log:\n${log}`);
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
