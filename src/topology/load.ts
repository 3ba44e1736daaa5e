// Reads fleet.yaml (or the default fleet), validates it and turns it into a Topology.
import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { PINNED } from "../versions.ts";
import { ConfigError, type ConfigProblem, fieldPath } from "./errors.ts";
import { Fleet, type FleetConfig, type FleetInput } from "./schema.ts";
import { semanticProblems } from "./semantics.ts";
import { type Topology, toTopology } from "./topology.ts";

export const DEFAULT_FLEET: FleetInput = {
  bucket: "thanos",
  clusters: [
    { name: "mgmt", role: "observer" },
    { name: "biz1", role: "workload" },
    { name: "biz2", role: "workload" },
    { name: "minio", role: "storage" },
  ],
};

/** The name errors use for the built-in default, which has no file. */
export const DEFAULT_SOURCE = "(default fleet)";

export async function loadTopology(file?: string): Promise<Topology> {
  if (!file) return parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const fix =
      code === "ENOENT"
        ? "create it with 'thanos-fleet init' or pass another --config"
        : "check its permissions";
    throw new ConfigError(file, [{ field: "", message: `cannot be read (${code ?? String(cause)})`, fix }]);
  }
  return parseFleetYaml(text, file);
}

export function parseFleetYaml(text: string, file: string): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        field: "",
        line: e.linePos?.[0]?.line,
        message: `is not valid YAML: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`,
        fix: "fix the YAML syntax at that line",
      })),
    );
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node && typeof node === "object" && node.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const input = doc.toJS() ?? {};
  return parseFleet(input, file, lineOf, doc.contents);
}

export function parseFleet(
  input: unknown,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined = () => undefined,
  root?: unknown,
): Topology {
  if (root !== undefined && root !== null && !isMap(root) && !isSeq(root)) {
    throw new ConfigError(file, [
      { field: "", message: "is not a YAML mapping", fix: "start from 'thanos-fleet init'" },
    ]);
  }
  const parsed = Fleet.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.flatMap((issue) => schemaProblems(issue, lineOf, input)),
    );
  }
  const problems = semanticProblems(parsed.data).map((p) => ({ ...p, line: p.line ?? lineOf(p.path) }));
  if (problems.length > 0) {
    throw new ConfigError(
      file,
      problems.map(({ path, ...p }) => p),
    );
  }
  return toTopology(parsed.data as FleetConfig, file);
}

function schemaProblems(
  issue: z.core.$ZodIssue,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
  input: unknown,
): ConfigProblem[] {
  const path = issue.path;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      field: fieldPath([...path, key]),
      line: lineOf([...path, key]),
      message: "is not a known key",
      fix: `remove it or check its spelling (see 'thanos-fleet init' for every key)`,
    }));
  }
  if (issue.code === "invalid_union" && path.at(-1) === undefined) {
    return [
      { field: fieldPath(path), line: lineOf(path), message: issue.message, fix: "see 'thanos-fleet init'" },
    ];
  }
  const field = fieldPath(path);
  const value = valueAt(input, path);
  const message = isMissing(issue) ? messageFor(issue) : `${JSON.stringify(value)} ${messageFor(issue)}`;
  return [{ field, line: lineOf(path), message, fix: fixFor(issue) }];
}

function messageFor(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_union" && "discriminator" in issue) {
    return "must be one of observer, workload or storage";
  }
  if (isMissing(issue)) return "is required";
  return issue.message;
}

function fixFor(issue: z.core.$ZodIssue): string {
  const last = issue.path.at(-1);
  if (last === "role" || (issue.code === "invalid_union" && "discriminator" in issue)) {
    return "set role to observer, workload or storage";
  }
  if (isMissing(issue)) return `add ${String(last)}`;
  if (issue.code === "too_small" || issue.code === "too_big") return "change the value to fit the range";
  const example = EXAMPLES[String(last)];
  return example ? `use a value such as ${example}` : "correct the value";
}

/** A valid value for fields whose format is easy to get wrong. */
const EXAMPLES: Record<string, string> = {
  name: "biz-eu1",
  thanos: PINNED.thanos,
  prometheus: PINNED.prometheus,
  alertmanager: PINNED.alertmanager,
  kubePrometheusStack: PINNED.kubePrometheusStack,
  kindNodeImage: PINNED.kindNodeImage,
  minio: PINNED.minio,
  seaweedfs: PINNED.seaweedfs,
  bucket: "thanos",
  endpoint: "s3.example.com:443",
  retention: "5d",
  scrapeInterval: "15s",
  registry: "mirror.example.com/",
  path: "./kube-prometheus-stack-88.5.3.tgz",
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key],
    input,
  );
}

function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === "invalid_type" && issue.message.endsWith("received undefined");
}
