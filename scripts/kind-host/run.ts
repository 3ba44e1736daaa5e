// One seam for every command kind:host runs: the error names the command and carries the tail of its output.

import { spawn } from "node:child_process";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin. */
  input?: string | Buffer;
  /** Append the command's output to this stream as well (e.g. a build log). */
  log?: NodeJS.WritableStream;
}

const TAIL = 30;

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly output: string,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `cmd args…`; resolves to its stdout, rejects with a CommandError holding the last lines of its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const line = [cmd, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const all: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => {
      out.push(b);
      all.push(b);
      opts.log?.write(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
      all.push(b);
      opts.log?.write(b);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on("error", (err) => reject(new CommandError(line, "", `${line}: ${err.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
      const tail = Buffer.concat(all).toString("utf8").trimEnd().split("\n").slice(-TAIL).join("\n");
      const how = signal ? `killed by ${signal}` : `exit ${code}`;
      reject(new CommandError(line, tail, `${line}: ${how}${tail ? `\n${tail}` : ""}`));
    });
  });
}

/** Like run, but resolves to false instead of rejecting when the command fails. */
export async function succeeds(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<boolean> {
  try {
    await run(cmd, args, opts);
    return true;
  } catch {
    return false;
  }
}
