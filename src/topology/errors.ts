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

export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, "");
}
