// `thanos-fleet drill`: runs failure scenarios against the running fleet; exit 0 when each kept its promise.
import { kubeFaults } from "../drill/kube.ts";
import { localFaults } from "../drill/local.ts";
import { type DrillReport, runDrill, type ScenarioResult } from "../drill/run.ts";
import { scenarios } from "../drill/scenarios.ts";
import type { KubeRuntime } from "../runtimes/kube/index.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { table } from "../ui/table.ts";

export class DrillUsageError extends Error {
  readonly exitCode = 2;
}

function mark(ok: boolean | undefined): string {
  return ok === undefined ? "-" : ok ? "ok" : "FAIL";
}

export function formatResult(r: ScenarioResult): string[] {
  if (r.error) return [r.id, "FAIL", r.error];
  const parts = [
    r.view
      ? `view ${mark(r.view.ok)} (${r.view.seriesBefore} series, min ${r.view.seriesDuringMin} during, ${r.view.seriesAfter} after; widest gap ${r.view.maxGapSeconds} s of ${r.view.allowedGapSeconds} s allowed)`
      : "",
    r.warnings ? `warnings ${mark(r.warnings.ok)} (${r.warnings.seen.length})` : "",
    r.alert
      ? `alert ${r.alert.name} ${r.alert.ok ? `fired after ${r.alert.firedAfterSeconds} s` : "did NOT fire"}`
      : "",
    r.recovery
      ? r.recovery.ok
        ? `recovered ${r.recovery.seconds} s after the fault was lifted`
        : `NOT recovered: ${(r.recovery.failing ?? []).join("; ")}`
      : "",
    r.uploads ? `uploads ${mark(r.uploads.ok)}: ${r.uploads.detail}` : "",
    r.writes
      ? `writes ${mark(r.writes.ok)} (${r.writes.failedSamples} samples and ${r.writes.failedRequests} requests failed; ` +
        `${r.writes.retriedSamples} samples resent, ${r.writes.replicationErrors} ingester copies not stored)`
      : "",
    r.queries
      ? `queries ${mark(r.queries.ok)} (${r.queries.sent} sent, each on a new connection, ${r.queries.failed} failed; longest wait for an answer ${r.queries.longestGapSeconds} s)`
      : "",
    r.rotation ? `rotation ${mark(r.rotation.ok)}: ${r.rotation.detail}` : "",
    r.blocks
      ? `blocks ${mark(r.blocks.ok)} (${r.blocks.before} before, ${r.blocks.after} after${r.blocks.missing.length > 0 ? `, lost ${r.blocks.missing.join(", ")}` : ""})`
      : "",
  ].filter(Boolean);
  return [r.id, r.ok ? "ok" : "FAIL", `${r.broken ?? ""}: ${parts.join("; ")}`];
}

export function formatReport(report: DrillReport): string {
  const rows = report.scenarios.map(formatResult);
  const failed = report.scenarios.filter((s) => !s.ok).length;
  return `${table(["SCENARIO", "VERDICT", "WHAT HAPPENED"], rows)}${
    failed === 0
      ? `every scenario (${report.scenarios.length}) kept its promise\n`
      : `${failed} of ${report.scenarios.length} scenario(s) broke their promise\n`
  }`;
}

export async function drillCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean; scenarios: string[]; signal: AbortSignal },
): Promise<number> {
  const all = scenarios(topology, { runtime: runtime.name });
  const unknown = opts.scenarios.filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new DrillUsageError(
      `unknown scenario(s): ${unknown.join(", ")}; the scenarios are: ${all.map((s) => s.id).join(", ")}`,
    );
  }
  const chosen = opts.scenarios.length > 0 ? all.filter((s) => opts.scenarios.includes(s.id)) : all;
  const endpoints = await runtime.endpoints(topology, { stateDir: opts.stateDir });
  const faults =
    runtime.name === "local"
      ? localFaults(topology, opts.stateDir)
      : kubeFaults({
          topology,
          ...(await (runtime as KubeRuntime).faultTarget(topology, { stateDir: opts.stateDir })),
          signal: opts.signal,
          rotateCerts: (progress) =>
            (runtime as KubeRuntime).rotateCerts(topology, { stateDir: opts.stateDir, progress }),
        });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const report = await runDrill(topology, endpoints, faults, chosen, {
    signal: opts.signal,
    onProgress: opts.json ? undefined : log,
    onResult: opts.json ? undefined : (r) => log(`${formatResult(r).join("  ")}`),
  });
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
