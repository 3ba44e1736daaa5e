// A real local fleet for one test file: its own subnet and state dir, quick blocks, and a cleanup that leaves
// nothing running and keeps the logs only when a test failed.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { createLocalRuntime } from "../../src/runtimes/local/index.ts";
import type { Topology } from "../../src/topology/topology.ts";
import { formatReport } from "../../src/verify/report.ts";
import { verifyFleetUntil } from "../../src/verify/wait.ts";
import { recordingReporter } from "../reporter.ts";

export async function testFleet(topology: Topology, opts: { subnet: string; name: string }) {
  const runtime = createLocalRuntime({ subnet: opts.subnet, blockDuration: "1m", bucketSyncInterval: "5s" });
  const stateDir = await mkdtemp(join(tmpdir(), `fleet-${opts.name}-`));
  const { lines, reporter } = recordingReporter();
  const upOptions = { stateDir, reporter, signal: new AbortController().signal, verbose: true };
  const fleet = {
    runtime,
    stateDir,
    lines,
    upOptions,
    failed: false,
    /** `up`, then its endpoints once verify is green (3 minutes at most, else the report fails the test). */
    async upGreen(): Promise<FleetEndpoints> {
      await runtime.up(topology, upOptions);
      const endpoints = await runtime.endpoints(topology, { stateDir });
      const ready = await verifyFleetUntil(topology, endpoints, { waitMs: 180_000 });
      assert.ok(ready.ok, formatReport(ready));
      return endpoints;
    },
  };
  after(async () => {
    await runtime.down(topology, { ...upOptions, purge: false }).catch(() => {});
    if (!fleet.failed) await rm(stateDir, { recursive: true, force: true });
    else process.stderr.write(`${opts.name}: state and logs kept in ${stateDir}\n${lines.join("\n")}\n`);
  });
  return fleet;
}
