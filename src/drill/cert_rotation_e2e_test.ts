// The cert-rotation drill on a real local fleet: every server's certificate renewed while the global view is queried
// without pause; no query fails, each server presents its new certificate, nothing restarts, and `up` afterwards
// has nothing to change.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { testFleet } from "../../testing/local/fleet.ts";
import { certsCommand } from "../commands/certs.ts";
import { formatResult } from "../commands/drill.ts";
import { loadTopology } from "../topology/load.ts";
import { localFaults } from "./local.ts";
import { Fleet, runDrill } from "./run.ts";
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
      type Listed = { certificates: { file: string; sans: string[]; daysLeft: number; subject: string }[] };
      const before = JSON.parse(listed) as Listed;
      const clientsOf = (l: Listed) =>
        l.certificates.filter((c) => c.file === "grpc-client.crt" || c.file === "http-client.crt");
      const clientsBefore = clientsOf(before);
      assert.equal(clientsBefore.length, 2);
      for (const c of clientsBefore)
        assert.ok(c.daysLeft >= 88 && c.daysLeft <= 90, `${c.file}: ${c.daysLeft} days`);
      const readClients = async () =>
        Promise.all(
          ["grpc-client.crt", "http-client.crt"].map(
            async (f) => new X509Certificate(await readFile(join(fleet.stateDir, "tls", f))).serialNumber,
          ),
        );
      const serialsBefore = await readClients();
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
      // The client certificates too: renewed, every copy current (HAProxy's in its memory), queries never failed.
      assert.match(
        result?.rotation?.detail ?? "",
        /2 client certificates renewed \(grpc-client, http-client\), (\d+)\/\1 copies current/,
      );
      const serialsAfter = await readClients();
      for (const [i, s] of serialsAfter.entries()) assert.notEqual(s, serialsBefore[i], "renewed");

      // The renewed server certificates and the client certificates re-read per handshake are no part of any
      // process's spec. Thanos's HTTP clients (query-frontend, the rulers, the sidecars → Prometheus) cannot re-read
      // theirs (reloadsHttpClientCert): up restarts those, and only those.
      const from = fleet.lines.length;
      // Measured, not asserted: what queries through query-frontend see while up restarts it (one replica).
      const stopQueries = new AbortController();
      const queries = new Fleet(topology, endpoints, stopQueries.signal).queryWithoutPause(
        stopQueries.signal,
      );
      await fleet.runtime.up(topology, fleet.upOptions);
      const during = await queries.stop();
      process.stdout.write(
        `# queries during the up after the rotation: ${during.sent} sent, ${during.failed} failed, longest wait ` +
          `${during.longestGapSeconds} s${during.failures.length ? `: ${during.failures.slice(0, 3).join("; ")}` : ""}\n`,
      );
      const lines = fleet.lines.slice(from).join("\n");
      const changed = /the local fleet converged: (\d+) of \d+ processes changed/.exec(lines);
      assert.ok(changed, lines);
      process.stdout.write(`# up after the rotation: ${changed[0]}\n`);
      assert.equal(Number(changed[1]), 7, lines);
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
