// The one process seam of the Kubernetes runtime (like kind's pkg/exec): every kind, helm and docker call goes here.
import { spawn } from "node:child_process";

export interface RunOptions {
  /** Written to the process's stdin, which is then closed. */
  input?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Each output line as it arrives (for --verbose). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface Exec {
  run(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>;
}

const TAIL_LINES = 20;

/** A command that could not start or exited non-zero: carries the command line, the tail of its output and the cause. */
export class ExecError extends Error {
  readonly command: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode?: number;
  /** The program was not found on PATH. */
  readonly notFound: boolean;

  constructor(
    command: string,
    result: { stdout: string; stderr: string; exitCode?: number; notFound?: boolean; signal?: string },
    cause?: unknown,
  ) {
    const what = result.notFound
      ? "was not found on PATH"
      : result.signal
        ? `was stopped by ${result.signal}`
        : result.exitCode !== undefined
          ? `exited with status ${result.exitCode}`
          : "failed";
    const tail = outputTail(result.stdout, result.stderr);
    super(`'${command}' ${what}${tail ? `:\n${indent(tail)}` : ""}`, { cause });
    this.name = "ExecError";
    this.command = command;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    this.exitCode = result.exitCode;
    this.notFound = Boolean(result.notFound);
  }

  /** The last lines of the command's output, stderr preferred. */
  get tail(): string {
    return outputTail(this.stdout, this.stderr);
  }
}

export function outputTail(stdout: string, stderr: string, lines = TAIL_LINES): string {
  const text = stderr.trim() || stdout.trim();
  return text.split("\n").slice(-lines).join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

/** The command line as a person would type it. */
export function commandLine(cmd: string, args: string[]): string {
  return [cmd, ...args].map(quote).join(" ");
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./{}^$-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Splits a stream into lines for onLine, keeping a partial last line until the next chunk. */
function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let rest = "";
  return {
    push(chunk) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) emit(l.replace(/\r$/, ""));
    },
    flush() {
      if (rest) emit(rest);
      rest = "";
    },
  };
}

/** Runs real processes with node:child_process. */
export const realExec: Exec = {
  run(cmd, args, opts = {}) {
    const line = commandLine(cmd, args);
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(cmd, args, {
          env: opts.env ? { ...process.env, ...opts.env } : process.env,
          signal: opts.signal,
          stdio: ["pipe", "pipe", "pipe"],
        });
      } catch (cause) {
        reject(new ExecError(line, { stdout, stderr }, cause));
        return;
      }
      const out = lineSplitter((l) => opts.onLine?.(l, "stdout"));
      const err = lineSplitter((l) => opts.onLine?.(l, "stderr"));
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        out.push(chunk);
      });
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        err.push(chunk);
      });
      let failed = false;
      child.on("error", (cause: NodeJS.ErrnoException) => {
        failed = true;
        reject(new ExecError(line, { stdout, stderr, notFound: cause.code === "ENOENT" }, cause));
      });
      child.on("close", (code, signal) => {
        out.flush();
        err.flush();
        if (failed) return;
        if (code === 0) resolve({ stdout, stderr });
        else
          reject(
            new ExecError(line, { stdout, stderr, exitCode: code ?? undefined, signal: signal ?? undefined }),
          );
      });
      // A program that exits without reading its input must not crash us with EPIPE.
      child.stdin?.on("error", () => {});
      child.stdin?.end(opts.input ?? "");
    });
  },
};
