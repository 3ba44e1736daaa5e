// The shapes verify produces: one result per check, and the report that gathers them.

export type CheckStatus = "pass" | "fail" | "pending";

export interface CheckResult {
  /** Stable id for machines, e.g. `stores`. */
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** For failures: the likely cause, in the user's terms. */
  cause?: string;
  /** For failures: what to do. */
  fix?: string;
  /** For pending results: when the awaited data should exist (ISO time); absent when it may come any moment. */
  expectedBy?: string;
}

export interface Report {
  runtime: "local" | "kubernetes";
  /** ISO time the verify started. */
  startedAt: string;
  durationMs: number;
  /** True when no check failed; pending is not a failure. */
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}
