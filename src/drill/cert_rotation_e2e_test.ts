// The cert-rotation drill on a real local fleet: every server's certificate renewed while the global view is queried
// without pause; no query fails, each server presents its new certificate, nothing restarts, and `up` afterwards
// has nothing to change.
import assert from "node:assert/strict";
import { test } from "node:test";
import { testFleet } from "../../testing/local/fleet.ts";
import { certsCommand } from "../commands/certs.ts";
import { formatResult } from "../commands/drill.ts";
import { loadTopology } from "../topology/load.ts";
import { localFaults } from "./local.ts";
import { runDrill } from "./run.ts";
import { scenarios } from "./scenarios.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.84";
const topology = await loadTopology();
const fleet = await testFleet(topology, { subnet: SUBNET, name: "cert-rotation" });

test(
  "cert-rotation: every server's certificate is replaced on the running fleet with no failed query",
  { timeout: 900_000 },
  async () => {
    try {
      const endpoints = await fleet.upGreen();

      let listed = "";
      await certsCommand({
        stateDir: fleet.stateDir,
        json: true,
        write: (t) => {
          listed += t;
        },
      });
      const before = JSON.parse(listed) as { certificates: { file: string; sans: string[] }[] };
      const servers = before.certificates.filter((c) => c.file.startsWith("servers/"));
      assert.ok(servers.length >= 15, `a certificate per server: ${servers.map((c) => c.file).join(", ")}`);
      assert.ok(
        servers.every((c) => c.sans.length > 0 && c.sans.every((s) => s.startsWith(`IP:${SUBNET}.`))),
        "each names only the fleet's own addresses",
      );

      const chosen = scenarios(topology, { runtime: "local" }).filter((s) => s.id === "cert-rotation");
      assert.equal(chosen.length, 1);
      const report = await runDrill(topology, endpoints, localFaults(topology, fleet.stateDir), chosen, {
        signal: new AbortController().signal,
        onProgress: (line) => fleet.lines.push(line),
      });
      const result = report.scenarios[0];
      const text = formatResult(result ?? { id: "?", title: "?", ok: false }).join("  ");
      process.stdout.write(`# ${text}\n`);
      assert.equal(result?.rotation?.ok, true, text);
      assert.equal(result?.queries?.failed, 0, text);
      assert.ok((result?.queries?.sent ?? 0) > 20, text);
      assert.equal(result?.view?.ok, true, text);
      assert.equal(result?.ok, true, text);

      // The renewed certificates are no part of any process's spec: up finds nothing to change.
      const from = fleet.lines.length;
      await fleet.runtime.up(topology, fleet.upOptions);
      const lines = fleet.lines.slice(from);
      assert.match(lines.join("\n"), /every process runs as planned: nothing changed/);
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
