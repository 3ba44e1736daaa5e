// Dev tool: records what verify reads from a running fleet into a testdata file, for the checks' unit tests.
// Usage: node --import tsx testing/verify/record.ts <out.json> "<scenario>" (--endpoints FILE | --runtime local) [--state-dir DIR]
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { fetchClient } from "../../src/net/http.ts";
import { loadTopology } from "../../src/topology/load.ts";
import { formatReport } from "../../src/verify/report.ts";
import { verifyFleet } from "../../src/verify/verify.ts";
import { type Recording, recordingClient } from "./replay.ts";

/** Recorded keys are examples, never the fleet's real ones. */
function redact(e: FleetEndpoints): FleetEndpoints {
  return {
    ...e,
    objectStore: { ...e.objectStore, accessKey: "thanos-EXAMPLEKEY", secretKey: "example-secret-key" },
    grafana: e.grafana?.map((g) => ({ ...g, password: "example-password" })),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { endpoints: { type: "string" }, runtime: { type: "string" }, "state-dir": { type: "string" } },
  });
  const [out, scenario = ""] = positionals;
  if (!out || (!values.endpoints && !values.runtime)) {
    throw new Error(
      "usage: record.ts <out.json> <scenario> (--endpoints FILE | --runtime local) [--state-dir DIR]",
    );
  }
  const topology = await loadTopology(process.env.THANOS_FLEET_CONFIG);
  let endpoints: FleetEndpoints;
  if (values.runtime) {
    const { runtimeFor } = await import("../../src/runtimes/index.ts");
    const { defaultStateDir } = await import("../../src/state/dir.ts");
    const { chooseRuntime } = await import("../../src/state/runtime.ts");
    const stateDir = values["state-dir"] ?? defaultStateDir();
    const runtime = await runtimeFor(await chooseRuntime(values.runtime, stateDir));
    const reported = await runtime.endpoints(topology, { stateDir });
    // The timings a local fleet runs with, for runtimes that do not report them yet.
    const { BLOCK_DURATION_ENV, SYNC_INTERVAL_ENV, DEFAULT_BLOCK_DURATION, DEFAULT_SYNC_INTERVAL } =
      await import("../../src/runtimes/local/index.ts");
    endpoints =
      values.runtime === "local"
        ? {
            blockDuration: process.env[BLOCK_DURATION_ENV] ?? DEFAULT_BLOCK_DURATION,
            bucketSyncInterval: process.env[SYNC_INTERVAL_ENV] ?? DEFAULT_SYNC_INTERVAL,
            ...reported,
          }
        : reported;
  } else {
    endpoints = JSON.parse(await readFile(values.endpoints as string, "utf8")) as FleetEndpoints;
  }
  const responses: Recording["responses"] = {};
  const now = new Date();
  const report = await verifyFleet(topology, endpoints, {
    http: recordingClient(fetchClient(5000), responses),
    now: () => now,
  });
  // Paths of this machine (the rulers report their rule file's) become `/state`.
  const stateDir = values["state-dir"];
  if (stateDir)
    for (const r of Object.values(responses)) if ("body" in r) r.body = r.body.replaceAll(stateDir, "/state");
  const recording: Recording = { scenario, now: now.toISOString(), endpoints: redact(endpoints), responses };
  await writeFile(out, `${JSON.stringify(recording, null, 1)}\n`);
  process.stdout.write(formatReport(report));
}

await main(process.argv.slice(2));
