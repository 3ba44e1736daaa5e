// What `verify --wait` is waiting for, as it goes: on a TTY a live line per check not yet passing, redrawn in place;
// otherwise the same lines again only when something changed.
import { formatDuration } from "../duration.ts";

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What a verify report shows of its checks: all the progress lines need. */
export interface ProgressReport {
  summary: { pass: number };
  checks: { id: string; status: "pass" | "fail" | "pending"; detail: string }[];
}

/** One attempt of `verify --wait` that did not settle: its report, or the error that stopped it. */
export interface WaitAttempt {
  report?: ProgressReport;
  error?: unknown;
  remainingMs: number;
}

export interface WaitProgress {
  (attempt: WaitAttempt): void;
  /** Clears a live block (TTY) before the final report is printed. */
  done(): void;
}

const STATE = { fail: "failing", pending: "pending" } as const;

function lines(
  report: ProgressReport | undefined,
  error: unknown,
): { head: string; rows: [string, string, string][] } {
  if (!report) {
    return { head: `fleet not reachable yet: ${(error as Error)?.message ?? String(error)}`, rows: [] };
  }
  const open = report.checks.filter((c) => c.status !== "pass");
  const head = `${report.summary.pass}/${report.checks.length} pass; waiting for ${open.map((c) => c.id).join(", ")}`;
  return {
    head,
    rows: open.map((c) => [c.id, STATE[c.status as "fail" | "pending"], c.detail.split("\n")[0] ?? ""]),
  };
}

export function waitProgress(out: ProgressOutput): WaitProgress {
  let last = "";
  let drawn = 0;
  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\r\x1b[J`);
    drawn = 0;
  };
  const progress = ((attempt: WaitAttempt) => {
    const { head, rows } = lines(attempt.report, attempt.error);
    const left = `(${formatDuration(attempt.remainingMs)} left)`;
    if (out.isTTY) {
      const width = Math.max(20, (out.columns ?? 100) - 1);
      const idWidth = Math.max(0, ...rows.map((r) => r[0].length));
      const text = [
        `verify: ${head} ${left}`,
        ...rows.map(([id, state, detail]) => `  ${id.padEnd(idWidth)}  ${state.padEnd(7)}  ${detail}`),
      ].map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
      clear();
      out.write(`${text.join("\n")}\n`);
      drawn = text.length;
      return;
    }
    const key = JSON.stringify([head, rows]);
    if (key === last) return;
    last = key;
    out.write(`verify: ${head} ${left}\n`);
    for (const [id, state, detail] of rows) out.write(`verify:   ${id} ${state}: ${detail}\n`);
  }) as WaitProgress;
  progress.done = () => {
    if (out.isTTY) clear();
  };
  return progress;
}
