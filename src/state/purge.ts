// `down --purge` and the state dir's secrets: the credentials and TLS material thanos-fleet generated go with the last
// fleet recorded there; the directory and any file thanos-fleet did not write stay.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CREDENTIALS_FILE } from "./credentials.ts";
import { recordedRuntime } from "./runtime.ts";
import { TLS_DIR } from "./tls.ts";

/** What purgeSecrets did: the entries it deleted, and the entries of the state dir it left. */
export interface Purged {
  deleted: string[];
  kept: string[];
}

/**
 * Deletes credentials.yaml and the gRPC TLS directory once no runtime records a fleet in the state dir (a fleet still
 * recorded keeps the secrets it runs with). objectStore.credentialsFile is the user's and lives outside: never touched.
 */
export async function purgeSecrets(stateDir: string): Promise<Purged> {
  const entries = await readdir(stateDir).catch(() => [] as string[]);
  if ((await recordedRuntime(stateDir).catch(() => "damaged")) !== undefined)
    return { deleted: [], kept: entries };
  const deleted: string[] = [];
  for (const name of [CREDENTIALS_FILE, TLS_DIR]) {
    if (!entries.includes(name)) continue;
    await rm(join(stateDir, name), { recursive: true, force: true });
    deleted.push(name);
  }
  return { deleted, kept: entries.filter((e) => !deleted.includes(e)) };
}

/** The line `down --purge` prints about the state dir's secrets and what else it left there. */
export function describePurged(stateDir: string, p: Purged): string {
  const deleted =
    p.deleted.length > 0
      ? `deleted the fleet's generated ${p.deleted.join(" and ")} from ${stateDir}`
      : `no generated credentials to delete in ${stateDir}`;
  return p.kept.length > 0
    ? `${deleted}; left there (not thanos-fleet's, or still in use): ${p.kept.join(", ")}`
    : deleted;
}
