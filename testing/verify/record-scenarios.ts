// Dev tool: brings up a local fleet, breaks it one way after another, and records what verify reads in each
// state into src/verify/testdata/<scenario>.json (the fixtures of checks_test.ts). Takes about five minutes.
// Usage: node --import tsx testing/verify/record-scenarios.ts [--subnet 127.78]
import { parseArgs } from "node:util";
import type { FleetEndpoints } from "../../src/endpoints.ts";
import { loadTopology } from "../../src/topology/load.ts";
import type { Report } from "../../src/verify/types.ts";
import { LocalFleetHarness } from "./harness.ts";

const REPLICA_1 = "prometheus-kube-prometheus-stack-prometheus-1";

const { values } = parseArgs({ options: { subnet: { type: "string", default: "127.78" } } });
const topology = await loadTopology();
const fleet = new LocalFleetHarness(topology, values.subnet as string);

/** Verifies until `ready` holds, then records that verify as src/verify/testdata/<name>.json. */
async function record(
  name: string,
  scenario: string,
  ready: (r: Report) => boolean,
  endpoints?: FleetEndpoints,
  timeoutMs = 120_000,
): Promise<void> {
  process.stdout.write(
    `\n${name}: ${scenario}\n${await fleet.record(name, scenario, ready, endpoints, timeoutMs)}`,
  );
}

const status = (r: Report, id: string) => r.checks.find((c) => c.id === id)?.status;
const only =
  (...failing: string[]) =>
  (r: Report) =>
    r.checks.every((c) => (failing.includes(c.id) ? c.status === "fail" : c.status === "pass"));

let keep = false;
try {
  await fleet.up();
  await record(
    "fresh",
    "a healthy local fleet seconds after up: no block uploaded yet",
    (r) => r.ok && status(r, "objstore") === "pending",
  );
  const e = await fleet.endpoints();
  await record(
    "wrong-s3-secret",
    "verify given the right access key with a wrong secret key",
    (r) => status(r, "objstore") === "fail",
    { ...e, objectStore: { ...e.objectStore, secretKey: "not-the-secret-key" } },
  );
  await record(
    "wrong-s3-key",
    "verify given an access key the object store does not know",
    (r) => status(r, "objstore") === "fail",
    { ...e, objectStore: { ...e.objectStore, accessKey: "thanos-unknown" } },
  );
  const dup = await fleet.duplicateQuery("biz2", "prometheus-kube-prometheus-stack-prometheus-0");
  await record(
    "duplicate-endpoint",
    "thanos-query-1 reaches biz2's sidecar 0 at its NodePort and at its pod address, as two node IPs would",
    (r) => status(r, "duplicates") === "fail",
    dup.endpoints,
  );
  fleet.stopDuplicateQuery();
  await record(
    "healthy",
    "a healthy default local fleet with blocks in the bucket, served by the store gateway",
    (r) => r.checks.every((c) => c.status === "pass"),
    undefined,
    420_000,
  );
  await fleet.stop("mgmt", "compact");
  await record("compactor-stopped", "the compactor stopped", only("compactor"));
  await fleet.stop("mgmt", "alertmanager");
  await record(
    "alertmanager-down",
    "the compactor and mgmt's Alertmanager stopped",
    only("compactor", "ruler"),
  );
  await fleet.stop("biz1", "sidecar", REPLICA_1);
  await record(
    "sidecar-stopped",
    "biz1's sidecar of Prometheus replica 1 stopped (compactor and Alertmanager too)",
    (r) => only("compactor", "ruler", "stores", "query", "sidecars")(r),
  );
  await fleet.stop("biz2", "prometheus");
  await record(
    "workload-no-data",
    "both Prometheus of biz2 stopped: its sidecars run, biz2 has no data (and everything stopped before)",
    (r) =>
      status(r, "query") === "fail" &&
      /no recent series from workload cluster biz2/.test(
        r.checks.find((c) => c.id === "query")?.detail ?? "",
      ),
  );
  await fleet.stop("mgmt", "store");
  await record(
    "store-gateway-stopped",
    "the store gateway stopped (and everything stopped before)",
    (r) => status(r, "store-gateway") === "fail",
  );
} catch (error) {
  keep = true;
  process.stderr.write(`${(error as Error).message}\n${fleet.log.join("\n")}\n`);
  process.exitCode = 1;
} finally {
  const kept = await fleet.down(keep);
  if (kept) process.stderr.write(`state and logs kept in ${kept}\n`);
}
