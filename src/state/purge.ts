// `down --purge` and the state dir's secrets: the credentials and TLS material thanos-fleet generated go with the last
// fleet recorded there; the directory and any file thanos-fleet did not write stay.
import { readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { CREDENTIALS_FILE } from "./credentials.ts";
import { recordedRuntime } from "./runtime.ts";
import { SERVERS_DIR } from "./server-certs.ts";
import { generatedTlsFiles, TLS_DIR } from "./tls.ts";

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
  const kept = entries.filter((e) => e !== CREDENTIALS_FILE && e !== TLS_DIR);
  if (entries.includes(CREDENTIALS_FILE)) {
    await rm(join(stateDir, CREDENTIALS_FILE), { force: true });
    deleted.push(CREDENTIALS_FILE);
  }
  if (entries.includes(TLS_DIR)) {
    const left = await purgeTls(join(stateDir, TLS_DIR));
    if (left.length === 0) deleted.push(TLS_DIR);
    else {
      deleted.push(`the fleet's files in ${TLS_DIR}/`);
      kept.push(...left.map((f) => `${TLS_DIR}/${f}`));
    }
  }
  return { deleted, kept };
}

/**
 * Deletes the TLS files thanos-fleet writes (by name, and each server's .crt/.key in servers/), then each directory
 * if that left it empty. Returns what it left: files someone else put there.
 */
async function purgeTls(dir: string): Promise<string[]> {
  const ours = new Set(generatedTlsFiles());
  const servers = join(dir, SERVERS_DIR);
  for (const f of await readdir(servers).catch(() => [] as string[])) {
    if (/\.(crt|key)$/.test(f)) await rm(join(servers, f), { force: true });
  }
  await rmdir(servers).catch(() => {});
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (ours.has(f)) await rm(join(dir, f), { force: true });
  }
  const left = await readdir(dir).catch(() => [] as string[]);
  if (left.length === 0) await rmdir(dir).catch(() => {});
  return left;
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
