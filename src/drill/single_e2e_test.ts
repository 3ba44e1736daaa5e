// The drill's negative control on a real local fleet: with `replicas: 1`, the Prometheus replica down leaves the
// global view incomplete, and the drill says so (its promise broken, exit 1).
import assert from "node:assert/strict";
import { test } from "node:test";
import { testFleet } from "../../testing/local/fleet.ts";
import { formatResult } from "../commands/drill.ts";
import { defaultFleetYaml } from "../commands/init.ts";
import { parseFleetYaml } from "../topology/load.ts";
import { localFaults } from "./local.ts";
import { runDrill } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.83";
const topology = parseFleetYaml(defaultFleetYaml().replaceAll("replicas: 2 ", "replicas: 1 "), "fleet.yaml");
const fleet = await testFleet(topology, { subnet: SUBNET, name: "drill-single" });

test(
  "replicas: 1: the drill reports the view incomplete while the only replica is down",
  { timeout: 900_000 },
  async () => {
    try {
      assert.equal(topology.workloads[0]?.replicaNames.length, 1);
      const endpoints = await fleet.upGreen();
      const chosen = scenarios(topology).filter((s) => s.id === "prometheus-replica");
      const report = await runDrill(topology, endpoints, localFaults(topology, fleet.stateDir), chosen, {
        signal: new AbortController().signal,
        onProgress: (line) => fleet.lines.push(line),
      });
      const result = report.scenarios[0];
      assert.ok(result?.view, formatResult(result ?? { id: "?", title: "?", ok: false }).join("  "));
      const text = formatResult(result).join("  ");
      assert.ok(
        result.view.seriesDuringMin < result.view.seriesBefore,
        `fewer series while it is down: ${text}`,
      );
      assert.equal(result.view.ok, false, text);
      assert.equal(result.ok, false, text);
      assert.equal(report.ok, false);
      assert.equal(result.recovery?.ok, true, `it comes back once the fault is lifted: ${text}`);
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
