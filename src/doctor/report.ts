// The report as a person reads it: what was read, then one row per finding, most severe first, with its evidence
// and fix under it.
import { table } from "../ui/table.ts";
import type { DoctorReport } from "./types.ts";

export function formatDoctorReport(report: DoctorReport): string {
  const out = ["read:", ...report.read.map((l) => `  ${l}`), ""];
  if (report.findings.length === 0) {
    out.push("no findings");
  } else {
    const rows = report.findings.map((f) => [f.severity.toUpperCase(), f.id, f.title]);
    const lines = table(["SEVERITY", "FINDING", "WHAT"], rows).trimEnd().split("\n");
    out.push(lines[0] ?? "");
    report.findings.forEach((f, i) => {
      out.push(lines[i + 1] ?? "");
      for (const e of f.evidence) out.push(`    evidence: ${e}`);
      out.push(`    fix:      ${f.fix}`);
    });
  }
  const { error, warning, info } = report.summary;
  out.push(
    "",
    `${error > 0 ? "PROBLEMS" : "ok"}: ${error} error, ${warning} warning, ${info} info (${(report.durationMs / 1000).toFixed(1)}s)`,
  );
  return `${out.join("\n")}\n`;
}
