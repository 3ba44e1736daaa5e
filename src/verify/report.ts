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
