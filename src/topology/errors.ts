// Config problems, each naming the file, the field and the fix, reported together with exit code 2.

export interface ConfigProblem {
  /** Dotted path of the field, e.g. `clusters[1].nodePorts.sidecarGrpc`; empty for the whole file. */
  field: string;
  /** Line in the file, when the field stands in it. */
  line?: number;
  message: string;
  fix: string;
}

export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = `${file}${p.line ? `:${p.line}` : ""}`;
  const field = p.field ? ` ${p.field}:` : "";
  return `${where}:${field} ${p.message}; ${p.fix}`;
}

/** Longest value or key echoed in a message: a 100 KB value is named by its start and its length. */
export const ECHO_MAX = 64;

/** A value as messages echo it: JSON, one line, cut to ECHO_MAX characters with its full length said. */
export function echo(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  if (text.length <= ECHO_MAX) return text;
  return `${text.slice(0, ECHO_MAX)}… (${typeof value === "string" ? value.length : text.length} characters)`;
}

/** A key written as it is when it is a plain name, else quoted (and cut) as echo() does. */
function keyText(key: string): string {
  return /^[\w./-]{1,64}$/.test(key) ? key : `[${echo(key)}]`;
}

export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    const text = keyText(String(key));
    if (text.startsWith("[")) return `${out}${text}`;
    return out ? `${out}.${text}` : text;
  }, "");
}
