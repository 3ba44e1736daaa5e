// The report as a person reads it: one row per check, and under each failure its likely cause and the fix.
import { table } from "../ui/table.ts";
import type { Report } from "./types.ts";

const MARK = { pass: "pass", fail: "FAIL", pending: "pending" } as const;

export function formatReport(report: Report): string {
  const rows = report.checks.map((c) => [c.id, MARK[c.status], c.detail]);
  const lines = table(["CHECK", "STATUS", "DETAIL"], rows).trimEnd().split("\n");
  const out: string[] = [lines[0] ?? ""];
  report.checks.forEach((c, i) => {
    out.push(lines[i + 1] ?? "");
    if (c.status === "fail") {
      if (c.cause) out.push(`    cause: ${c.cause}`);
      if (c.fix) out.push(`    fix:   ${c.fix}`);
    }
  });
  const { pass, fail, pending } = report.summary;
  out.push(
    "",
    `${report.ok ? "ok" : "FAILED"}: ${pass} pass, ${fail} fail, ${pending} pending (${report.runtime} runtime, ${(report.durationMs / 1000).toFixed(1)}s)`,
  );
  return `${out.join("\n")}\n`;
}

/** One line for --wait progress. */
export function progressLine(report: Report): string {
  const failing = report.checks.filter((c) => c.status === "fail").map((c) => c.id);
  const waiting = report.checks.filter((c) => c.status === "pending").map((c) => c.id);
  const parts = [`${report.summary.pass}/${report.checks.length} pass`];
  if (failing.length > 0) parts.push(`failing: ${failing.join(", ")}`);
  if (waiting.length > 0) parts.push(`pending: ${waiting.join(", ")}`);
  return parts.join("; ");
}
