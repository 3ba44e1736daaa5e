// The fleet's credentials for every runtime and render: the generated ones, with Thanos's key taken from the external
// object store's credentials file when fleet.yaml names one (that key is the user's, not ours to generate).
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import type { Topology } from "../topology/topology.ts";
import { type Credentials, loadCredentials } from "./credentials.ts";

/** Where objectStore.credentialsFile points: relative paths are relative to fleet.yaml. */
export function credentialsFilePath(topology: Topology): string | undefined {
  const file = topology.objectStore?.credentialsFile;
  if (!file) return undefined;
  return isAbsolute(file) ? file : resolve(dirname(topology.source), file);
}

/** Reads `access_key` and `secret_key` (YAML) from the external object store's credentials file. */
export async function readObjectStoreKey(file: string): Promise<{ accessKey: string; secretKey: string }> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new Error(
      `objectStore.credentialsFile ${file} cannot be read; it must hold access_key and secret_key (YAML)`,
      {
        cause,
      },
    );
  }
  const { access_key: accessKey, secret_key: secretKey } = (doc ?? {}) as Record<string, unknown>;
  if (typeof accessKey !== "string" || !accessKey || typeof secretKey !== "string" || !secretKey) {
    throw new Error(
      `objectStore.credentialsFile ${file} lacks access_key or secret_key; add both (YAML strings)`,
    );
  }
  return { accessKey, secretKey };
}

/** The fleet's credentials; new ones are written to the state dir only by `save()`. */
export async function loadFleetCredentials(
  topology: Topology,
  stateDir: string,
): Promise<{ credentials: Credentials; save: () => Promise<void> }> {
  const { credentials, save } = await loadCredentials(stateDir);
  const file = credentialsFilePath(topology);
  return {
    credentials: file ? { ...credentials, thanos: await readObjectStoreKey(file) } : credentials,
    save,
  };
}

/** The fleet's credentials, created in the state dir on first use. */
export async function fleetCredentials(topology: Topology, stateDir: string): Promise<Credentials> {
  const { credentials, save } = await loadFleetCredentials(topology, stateDir);
  await save();
  return credentials;
}
