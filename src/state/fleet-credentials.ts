// The fleet's credentials for every runtime and render: the generated ones, with Thanos's key taken from the external
// object store's credentials file when fleet.yaml names one (that key is the user's, not ours to generate).
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../topology/errors.ts";
import { type Topology, topologyError } from "../topology/topology.ts";
import { type Credentials, loadCredentials } from "./credentials.ts";

/** Where objectStore.credentialsFile points: relative paths are relative to fleet.yaml. */
export function credentialsFilePath(topology: Topology): string | undefined {
  const file = topology.objectStore?.credentialsFile;
  if (!file) return undefined;
  return isAbsolute(file) ? file : resolve(dirname(topology.source), file);
}

/**
 * Reads `access_key` and `secret_key` (YAML) from the external object store's credentials file. Its content is
 * secret: no error says what it holds, not even the YAML parser's excerpt of the line at fault (nor as a cause).
 */
export async function readObjectStoreKey(
  file: string,
  topology?: Topology,
): Promise<{ accessKey: string; secretKey: string }> {
  const field = ["objectStore", "credentialsFile"];
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    const message = `${file} cannot be read (${code})`;
    const fix = "create it with access_key and secret_key (YAML), or point credentialsFile at it";
    if (topology) throw topologyError(topology, field, message, fix);
    throw new ConfigError(file, [{ field: "", message: `cannot be read (${code})`, fix }]);
  }
  const refuse = (problem: { line?: number; message: string }) =>
    new ConfigError(file, [
      {
        field: "",
        ...problem,
        message: `${problem.message} (objectStore.credentialsFile; its content is secret and not shown)`,
        fix: `write it as YAML: 'access_key: <key id>' and 'secret_key: <secret>' on two lines`,
      },
    ]);
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: new LineCounter() });
  const [error] = doc.errors;
  if (error) {
    const line = error.linePos?.[0]?.line;
    const ini = /^\s*\[[^\]\n]+\]\s*$/m.test(text) && /^\s*aws_/m.test(text);
    throw refuse({
      ...(line === undefined ? {} : { line }),
      message: ini ? "is an AWS credentials file (INI), not YAML" : `is not valid YAML (${error.code})`,
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 10 });
  } catch {
    throw refuse({ message: "is not plain YAML (its aliases cannot be resolved)" });
  }
  const { access_key: accessKey, secret_key: secretKey } = (isRecord(value) ? value : {}) as Record<
    string,
    unknown
  >;
  if (typeof accessKey !== "string" || !accessKey || typeof secretKey !== "string" || !secretKey) {
    throw refuse({ message: "lacks access_key or secret_key, or one is not a string" });
  }
  return { accessKey, secretKey };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The fleet's credentials; new ones are written to the state dir only by `save()`. */
export async function loadFleetCredentials(
  topology: Topology,
  stateDir: string,
): Promise<{ credentials: Credentials; save: () => Promise<void> }> {
  const { credentials, save } = await loadCredentials(stateDir);
  const file = credentialsFilePath(topology);
  return {
    credentials: file ? { ...credentials, thanos: await readObjectStoreKey(file, topology) } : credentials,
    save,
  };
}

/** The fleet's credentials, created in the state dir on first use. */
export async function fleetCredentials(topology: Topology, stateDir: string): Promise<Credentials> {
  const { credentials, save } = await loadFleetCredentials(topology, stateDir);
  await save();
  return credentials;
}
