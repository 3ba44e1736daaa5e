// The real thing on a machine with Docker: `up` (four kind clusters, wired, verified), `verify`, a query through
// query-frontend that must return series of every workload cluster, then `down`. Run with `npm run e2e:kind`.
// Environment: E2E_KEEP=1 keeps the fleet afterwards, E2E_KEEP_ON_FAILURE=1 only when something failed (CI collects
// logs, then deletes it); E2E_VERBOSE=1 streams kind and helm; E2E_CONFIG names a fleet.yaml, E2E_IMAGES an image
// archive for `up --images`; E2E_STATE_DIR picks the state dir (default: a temporary one). KUBECONFIG is set to a file inside the state dir, so the user's is untouched.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { commandLine, type Exec, realExec } from "../src/runtimes/kube/exec.ts";
import { createKubeRuntime, realDeps, verifyWithWait } from "../src/runtimes/kube/index.ts";
import { kindClusters } from "../src/runtimes/kube/kind.ts";
import { PreflightError } from "../src/runtimes/kube/preflight.ts";
import { ensureStateDir } from "../src/state/dir.ts";
import { loadTopology } from "../src/topology/load.ts";
import type { Topology } from "../src/topology/topology.ts";
import { createReporter } from "../src/ui/reporter.ts";
import { formatReport } from "../src/verify/report.ts";
import { verifyFleetUntil } from "../src/verify/wait.ts";

const verbose = process.env.E2E_VERBOSE === "1";
const keepAlways = process.env.E2E_KEEP === "1";
const keepOnFailure = process.env.E2E_KEEP_ON_FAILURE === "1";
const reporter = createReporter({ verbose });
const log = (line: string) => process.stderr.write(`e2e: ${line}\n`);

/** Every command the runtime runs, to show that a second `up` creates and upgrades nothing. */
const commands: string[] = [];
const exec: Exec = {
  run(cmd, args, opts) {
    commands.push(commandLine(cmd, args));
    return realExec.run(cmd, args, opts);
  },
};
const kubeRuntime = createKubeRuntime(realDeps({ exec, verify: verifyWithWait }));

interface QueryResult {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** Instant query through query-frontend; the clusters whose series come back. */
async function clustersIn(
  queryFrontend: string,
  query: string,
  dedup: boolean,
): Promise<QueryResult["data"]> {
  const url = new URL("/api/v1/query", queryFrontend);
  url.searchParams.set("query", query);
  url.searchParams.set("dedup", String(dedup));
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as QueryResult;
  if (!res.ok || body.status !== "success")
    throw new Error(`query ${query} answered ${res.status}: ${JSON.stringify(body)}`);
  return body.data;
}

/** The cross-cluster promise of the fleet: one query, series of every workload cluster, replicas deduplicated. */
async function crossClusterQuery(topology: Topology, queryFrontend: string): Promise<void> {
  const want = topology.workloads.map((w) => w.name).sort();
  const deadline = Date.now() + 3 * 60_000;
  let last = "";
  for (;;) {
    try {
      const merged = await clustersIn(queryFrontend, "count by (cluster) (up)", true);
      const got = [...new Set(merged?.result.map((r) => r.metric.cluster ?? ""))].sort();
      const replicas = await clustersIn(queryFrontend, "count by (cluster, prometheus_replica) (up)", false);
      const perCluster = new Map<string, number>();
      for (const r of replicas?.result ?? []) {
        const c = r.metric.cluster ?? "";
        perCluster.set(c, (perCluster.get(c) ?? 0) + 1);
      }
      const undeduplicated = want.every(
        (c) => (perCluster.get(c) ?? 0) === topology.workloads.find((w) => w.name === c)?.prometheus.replicas,
      );
      if (want.every((c) => got.includes(c)) && undeduplicated) {
        log(
          `cross-cluster query: series of ${got.join(", ")}; without dedup ${[...perCluster].map(([c, n]) => `${c}×${n}`).join(", ")}`,
        );
        return;
      }
      last = `clusters ${got.join(", ") || "none"} (want ${want.join(", ")}); replicas ${[...perCluster].map(([c, n]) => `${c}×${n}`).join(", ")}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`the cross-cluster query did not return every workload cluster: ${last}`);
    await sleep(5000);
  }
}

async function main(): Promise<number> {
  const stateDir = await ensureStateDir(
    process.env.E2E_STATE_DIR ?? (await mkdtemp(join(tmpdir(), "thanos-fleet-e2e-"))),
  );
  process.env.KUBECONFIG = join(stateDir, "kubeconfig");
  log(`state dir ${stateDir}, KUBECONFIG ${process.env.KUBECONFIG}`);
  // E2E_CONFIG: a fleet.yaml of one's own (an offline machine's: chart.path, images.archive, grafana: false).
  const topology = await loadTopology(process.env.E2E_CONFIG);
  const images = process.env.E2E_IMAGES ? { images: process.env.E2E_IMAGES } : {};
  const signal = AbortSignal.timeout(50 * 60_000);
  let failed = false;
  let created = false;
  const kept = () => keepAlways || (failed && keepOnFailure);
  try {
    const started = Date.now();
    created = true;
    await kubeRuntime.up(topology, { stateDir, reporter, signal, verbose, ...images });
    log(`up took ${Math.round((Date.now() - started) / 1000)}s`);

    const report = await verifyFleetUntil(topology, () => kubeRuntime.endpoints(topology, { stateDir }), {
      waitMs: 5 * 60_000,
      signal,
    });
    process.stdout.write(formatReport(report));
    if (!report.ok) throw new Error("verify found failures");

    const endpoints = await kubeRuntime.endpoints(topology, { stateDir });
    await crossClusterQuery(topology, endpoints.queryFrontend);

    const again = Date.now();
    const mark = commands.length;
    await kubeRuntime.up(topology, { stateDir, reporter, signal, verbose, ...images });
    log(`a second up took ${Math.round((Date.now() - again) / 1000)}s`);
    const changed = commands.slice(mark).filter((c) => /^kind (create|load)|^helm (upgrade|repo)/.test(c));
    if (changed.length > 0) throw new Error(`a second up was not a no-op: ${changed.join("; ")}`);
  } catch (error) {
    failed = true;
    if (causes(error).some((e) => e instanceof PreflightError)) {
      created = false;
      process.stderr.write(`e2e: this machine cannot run the fleet yet; ${describe(error)}\n`);
    } else {
      process.stderr.write(`e2e failed: ${describe(error)}\n`);
    }
  }
  await kubeRuntime.close();
  if (created && !kept()) {
    const problem = await teardown(topology, stateDir);
    if (problem) {
      failed = true;
      process.stderr.write(`e2e: down failed: ${problem}\n`);
    }
  } else if (kept()) {
    log(`kept the fleet: 'thanos-fleet down --state-dir ${stateDir}' removes it`);
  }
  // A temporary state dir goes with the fleet (kept after a failure of a created fleet, for its logs and kubeconfig).
  if (!kept() && !process.env.E2E_STATE_DIR && (!failed || !created))
    await rm(stateDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

/** `down`, then proof that no kind cluster of the fleet is left; the problem, if any. */
async function teardown(topology: Topology, stateDir: string): Promise<string | undefined> {
  try {
    await kubeRuntime.down(topology, {
      stateDir,
      reporter,
      signal: AbortSignal.timeout(10 * 60_000),
      verbose,
      purge: true,
    });
    const left = [...(await kindClusters(realExec))].filter((c) =>
      topology.fleet.clusters.some((x) => x.name === c),
    );
    return left.length > 0 ? `down left kind clusters behind: ${left.join(", ")}` : undefined;
  } catch (error) {
    return describe(error);
  }
}

function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = error; e; e = (e as Error).cause) {
    out.push(e);
    if (!(e instanceof Error)) break;
  }
  return out;
}

function describe(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error; e; e = (e as Error).cause) {
    lines.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return lines.join("\n  caused by: ");
}

process.exitCode = await main();
