// verifyFleet: every check at once against a running fleet, from its topology and the endpoints its runtime reports.
import type { FleetEndpoints } from "../endpoints.ts";
import type { HttpClient } from "../net/http.ts";
import { anonymousClient, fleetClient, nodeClient } from "../net/https.ts";
import { s3HttpClient } from "../net/s3.ts";
import type { Topology } from "../topology/topology.ts";
import { COMPACTOR, checkCompactor } from "./checks/compactor.ts";
import { checkExposure, EXPOSURE } from "./checks/exposure.ts";
import { checkGaps, GAPS } from "./checks/gaps.ts";
import { checkGrafana, checkGrafanaDatasources, GRAFANA_DATASOURCE } from "./checks/grafana.ts";
import { checkObjectStore, OBJSTORE } from "./checks/objstore.ts";
import { checkQuery, QUERY } from "./checks/query.ts";
import { checkReceive, RECEIVE } from "./checks/receive.ts";
import { checkRuler, RULER } from "./checks/ruler.ts";
import { checkSidecars, SIDECARS } from "./checks/sidecars.ts";
import { checkStorageDoors, STORAGE_DOORS } from "./checks/storage-doors.ts";
import { checkStoreGateway, STORE_GATEWAY } from "./checks/storegw.ts";
import { checkDuplicates, checkStores, DUPLICATES, STORES } from "./checks/stores.ts";
import { checkSupervisor, SUPERVISOR } from "./checks/supervisor.ts";
import { CURRENT_VIEW_WAIT_MS, Probe } from "./probe.ts";
import { type CheckInfo, fail } from "./result.ts";
import type { CheckResult, Report } from "./types.ts";

export interface VerifyOptions {
  /** Deadline of each HTTP request (ms); default 5000. */
  timeoutMs?: number;
  /** The network seam; tests hand in recorded answers. */
  http?: HttpClient;
  /** The client without the fleet's credentials the exposure check asks with (else one made from the endpoints). */
  anonymousHttp?: HttpClient;
  /** With `http`: the client for the object store (else `http`), e.g. `s3HttpClient` for the fleet CA. */
  s3Http?: HttpClient;
  /** The clock; tests pin it to when answers were recorded. */
  now?: () => Date;
  /** Ids of checks not to run (the drill's recovery leaves out `gaps`: it measures the outage's hole itself). */
  skip?: string[];
}

type Check = [CheckInfo | undefined, (probe: Probe) => Promise<CheckResult | undefined>];

const CHECKS: Check[] = [
  [STORES, checkStores],
  [DUPLICATES, checkDuplicates],
  [QUERY, checkQuery],
  [GAPS, checkGaps],
  [OBJSTORE, checkObjectStore],
  [STORAGE_DOORS, checkStorageDoors],
  [STORE_GATEWAY, checkStoreGateway],
  [COMPACTOR, checkCompactor],
  [RULER, checkRuler],
  [SIDECARS, checkSidecars],
  [RECEIVE, checkReceive],
  [SUPERVISOR, checkSupervisor],
  [EXPOSURE, checkExposure],
  [undefined, checkGrafana],
  [GRAFANA_DATASOURCE, checkGrafanaDatasources],
];

/** Every check's id, as `verify --skip` takes them. */
export const CHECK_IDS: readonly string[] = CHECKS.map(([info]) => info?.id ?? "grafana");

/** A check that threw is a failure of verify itself, reported as such rather than hiding the other results. */
async function guarded(
  info: CheckInfo | undefined,
  run: Check[1],
  probe: Probe,
): Promise<CheckResult | undefined> {
  try {
    return await run(probe);
  } catch (error) {
    return fail(info ?? { id: "grafana", title: "Grafana" }, [
      {
        what: `verify could not run this check: ${(error as Error)?.message ?? String(error)}`,
        cause: "an API answered in a shape verify does not know (a version other than the pinned one?)",
        fix: "run with THANOS_FLEET_DEBUG=1 and report it with the versions in use",
      },
    ]);
  }
}

/** The CLI's default runtime is Kubernetes: on a local fleet, the commands a fix names must say `--runtime local`. */
export function forLocalRuntime(fix: string): string {
  return fix.replace(/`thanos-fleet (up|status|down)`/g, "`thanos-fleet $1 --runtime local`");
}

export async function verifyFleet(
  topology: Topology,
  endpoints: FleetEndpoints,
  opts: VerifyOptions = {},
): Promise<Report> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const t0 = performance.now();
  // A live fleet: wait for query's current view of its stores; a recorded one answers as it was recorded.
  const timeoutMs = opts.timeoutMs ?? 5000;
  const probe = opts.http
    ? new Probe(topology, endpoints, opts.http, now, 0, opts.s3Http ?? opts.http)
    : new Probe(
        topology,
        endpoints,
        fleetClient(timeoutMs, endpoints.httpTls),
        now,
        CURRENT_VIEW_WAIT_MS,
        s3HttpClient(endpoints.objectStore, timeoutMs),
        nodeClient({ timeoutMs, tls: { insecure: true } }),
      );
  if (opts.anonymousHttp) probe.anonymous = opts.anonymousHttp;
  else if (!opts.http) probe.anonymous = anonymousClient(timeoutMs, endpoints.httpTls);
  const chosen = CHECKS.filter(([info]) => !opts.skip?.includes(info?.id ?? "grafana"));
  const results = await Promise.all(chosen.map(([info, run]) => guarded(info, run, probe)));
  const checks = results
    .filter((r): r is CheckResult => r !== undefined)
    .map((r) => (endpoints.runtime === "local" && r.fix ? { ...r, fix: forLocalRuntime(r.fix) } : r));
  const summary = { pass: 0, fail: 0, pending: 0 };
  for (const c of checks) summary[c.status]++;
  return {
    runtime: endpoints.runtime,
    startedAt: started.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    ok: summary.fail === 0,
    summary,
    checks,
  };
}
