// Building check results: problems grouped by cause, so a failure reads as what, why, and what to do.
import { HttpError } from "../net/http.ts";
import { S3Error } from "../net/s3.ts";
import { ApiError } from "./probe.ts";
import type { CheckResult } from "./types.ts";

export interface CheckProblem {
  what: string;
  cause: string;
  fix: string;
}

export interface CheckInfo {
  id: string;
  title: string;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

export function pass(check: CheckInfo, detail: string): CheckResult {
  return { ...check, status: "pass", detail };
}

export function pending(check: CheckInfo, detail: string, expectedBy?: Date): CheckResult {
  return {
    ...check,
    status: "pending",
    detail,
    ...(expectedBy ? { expectedBy: expectedBy.toISOString() } : {}),
  };
}

export function fail(check: CheckInfo, problems: CheckProblem[], context?: string): CheckResult {
  const what = unique(problems.map((p) => p.what)).join("; ");
  return {
    ...check,
    status: "fail",
    detail: context ? `${what} (${context})` : what,
    cause: unique(problems.map((p) => p.cause)).join(" / "),
    fix: unique(problems.map((p) => p.fix)).join(" / "),
  };
}

/** Why a request came back empty-handed, in a few words. */
export function reason(error: unknown): string {
  if (error instanceof HttpError) {
    if (error.kind === "refused") return "connection refused";
    if (error.kind === "timeout") return "no answer in time";
    return error.message;
  }
  if (error instanceof ApiError) return error.status === 200 ? error.message : `HTTP ${error.status}`;
  if (error instanceof S3Error) return `${error.status} ${error.code}`;
  return (error as Error)?.message ?? String(error);
}

/** `dial tcp 127.0.1.1:10901: connect: connection refused` out of gRPC's nested error text. */
export function shortGrpcError(text: string): string {
  const dial = /(dial tcp [^"\\]*?: [^"\\]+)/.exec(text);
  if (dial) return dial[1] as string;
  const inner = /connection error: desc = \\?"([^"\\]+)/.exec(text);
  if (inner) return inner[1] as string;
  const desc = /desc = ([^"\\]+)$/.exec(text);
  const out = desc ? (desc[1] as string) : text;
  return out.length > 160 ? `${out.slice(0, 160)}…` : out;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
