// Reads fleet.yaml (or the default fleet), validates it and turns it into a Topology.
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import {
  type Document,
  isCollection,
  isMap,
  isNode,
  isPair,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Range,
} from "yaml";
import type { z } from "zod";
import { PINNED } from "../versions.ts";
import { ConfigError, type ConfigProblem, echo, fieldPath } from "./errors.ts";
import { Fleet, type FleetConfig, type FleetInput, LOCAL_BINARIES } from "./schema.ts";
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
  return parseFleetYaml(decodeUtf8(await readConfigFile(file), file), file);
}

/** More than any fleet.yaml needs, less than would hurt: a device or a runaway file is refused, not read whole. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** The bytes of a config file: a regular file (or a pipe), at most MAX_CONFIG_BYTES; anything else is a ConfigError. */
export async function readConfigFile(file: string, maxBytes = MAX_CONFIG_BYTES): Promise<Buffer> {
  const refuse = (message: string, fix: string) => new ConfigError(file, [{ field: "", message, fix }]);
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (cause) {
    throw refuse(...unreadable(cause));
  }
  try {
    if ((await handle.stat()).isDirectory()) {
      throw refuse(
        "is a directory, not a fleet.yaml",
        `pass the file itself, e.g. -c ${join(file, "fleet.yaml")}`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > maxBytes) {
        throw refuse(
          `is larger than ${maxBytes} bytes, far more than a fleet.yaml holds`,
          "check that -c names your fleet.yaml",
        );
      }
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw refuse(...unreadable(cause));
  } finally {
    await handle.close();
  }
}

function unreadable(cause: unknown): [string, string] {
  const code = (cause as NodeJS.ErrnoException).code;
  const message = `cannot be read (${code ?? String(cause)})`;
  if (code === "ENOENT") return [message, "create it with 'thanos-fleet init' or pass another --config"];
  if (code === "EISDIR") return ["is a directory, not a fleet.yaml", "pass the file itself"];
  if (code === "ENOTDIR") return [message, "a part of its path is a file, not a directory: check the path"];
  if (code === "EACCES" || code === "EPERM") return [message, "check its permissions"];
  return [message, "check the path and the file"];
}

/**
 * The text of a UTF-8 file; any other encoding is refused with the line and byte offset of the first byte that is
 * not UTF-8 (decoding them as U+FFFD would change a value without a word).
 */
export function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1;
    throw new ConfigError(file, [
      {
        field: "",
        line,
        message: `is not UTF-8: byte ${offset} (0x${(bytes[offset] ?? 0).toString(16).padStart(2, "0")}) starts no UTF-8 character`,
        fix: "save the file as UTF-8",
      },
    ]);
  }
}

/** The offset of the first byte that is not part of a well-formed UTF-8 sequence (bytes.length when there is none). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const n =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    try {
      decoder.decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return i;
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
  if (doc.contents === null) {
    throw new ConfigError(file, [
      {
        field: "",
        line: 1,
        message: "is empty (no YAML document, only blanks or comments)",
        fix: "start from 'thanos-fleet init', or leave out --config for the default fleet",
      },
    ]);
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
  return parseFleet(toPlain(doc, file, lines), file, lineOf, doc.contents);
}

/** As many alias expansions as a fleet.yaml may make: YAML's own limit, which stops a "billion laughs" document. */
const MAX_ALIAS_COUNT = 100;

/** The document as plain values; an alias bomb is a ConfigError naming the line of the alias that set it off. */
function toPlain(doc: Document, file: string, lines: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (cause) {
    if (!(cause instanceof ReferenceError) || !/alias/i.test(cause.message)) throw cause;
    const node = aliasCulprit(doc.contents, doc);
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
    const excessive = /excessive/i.test(cause.message);
    throw new ConfigError(file, [
      {
        field: "",
        ...(line ? { line } : {}),
        message: excessive
          ? `expands its aliases (*name) into more than ${MAX_ALIAS_COUNT} copies, as a resource-exhaustion attack does`
          : `has an alias that cannot be resolved (${cause.message})`,
        fix: excessive
          ? "write the values out instead of nesting aliases of aliases"
          : "define the anchor (&name) before its alias",
      },
    ]);
  }
}

/** The innermost node whose own expansion fails: the alias (or collection of aliases) to blame. */
function aliasCulprit(node: unknown, doc: Document): (Node & { range?: Range }) | undefined {
  const fails = (n: unknown) => {
    try {
      (n as Node).toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
      return false;
    } catch {
      return true;
    }
  };
  if (!isNode(node) || !fails(node)) return undefined;
  const children = isCollection(node)
    ? node.items.flatMap((item) => (isPair(item) ? [item.key, item.value] : [item]))
    : [];
  for (const child of children) {
    const inner = aliasCulprit(child, doc);
    if (inner) return inner;
  }
  return node as Node & { range?: Range };
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
  return toTopology(parsed.data as FleetConfig, file, lineOf);
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
      ...unknownKey(path, key),
    }));
  }
  if (issue.code === "invalid_union" && path.at(-1) === undefined) {
    return [
      { field: fieldPath(path), line: lineOf(path), message: issue.message, fix: "see 'thanos-fleet init'" },
    ];
  }
  const field = fieldPath(path);
  const value = valueAt(input, path);
  const message = isMissing(issue) ? messageFor(issue) : `${echo(value)} ${messageFor(issue)}`;
  return [{ field, line: lineOf(path), message, fix: fixFor(issue) }];
}

function unknownKey(path: readonly PropertyKey[], key: string): { message: string; fix: string } {
  if (path.length === 1 && path[0] === "binaries") {
    if (key === "minio") {
      return {
        message: "is not a program the local runtime runs: it never runs MinIO (AGPL, archived upstream)",
        fix: "remove it; the local runtime runs SeaweedFS (server: seaweedfs), MinIO is for the kubernetes runtime",
      };
    }
    return {
      message: "is not a program the local runtime runs",
      fix: `remove it or check its spelling: binaries names ${LOCAL_BINARIES.join(", ")}`,
    };
  }
  return {
    message: "is not a known key",
    fix: `remove it or check its spelling (see 'thanos-fleet init' for every key)`,
  };
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
  syncInterval: "3m",
  duration: "2h",
  raw: "30d",
  fiveMinutes: "90d",
  oneHour: "1y",
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
