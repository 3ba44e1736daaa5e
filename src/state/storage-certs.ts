// The storage cluster's two certificates (s3-server: its S3 API; seaweedfs: SeaweedFS's servers among themselves):
// short-lived like every leaf, renewed on their own keys, so that SeaweedFS, which re-reads them from their files
// (WEED_TLS_CERT_REFRESH_INTERVAL), presents the new one without a restart.
import { join } from "node:path";
import { type Renewal, renewalDue, replaceFile, type SigningCa, signLeaf } from "./server-certs.ts";
import {
  S3_FILES,
  S3_SERVER_NAME,
  type S3Tls,
  SEAWEEDFS_NAME,
  SEAWEEDFS_SANS,
  s3Sans,
  TLS_DIR,
} from "./tls.ts";

/** Each storage certificate by the name `certs`, `up` and `certs rotate` give it, with its file and names. */
function storageLeaves(service: { name: string; namespace: string }) {
  return [
    {
      name: "s3-server",
      part: "cert",
      file: S3_FILES.cert,
      cn: S3_SERVER_NAME,
      sans: s3Sans(service),
      alsoClient: false,
    },
    {
      name: "seaweedfs",
      part: "internalCert",
      file: S3_FILES.internalCert,
      cn: SEAWEEDFS_NAME,
      sans: SEAWEEDFS_SANS,
      alsoClient: true,
    },
  ] as const;
}

export interface StorageCerts {
  tls: S3Tls;
  /** Each storage certificate renewed (name `s3-server`, `seaweedfs`), with why. */
  renewals: Renewal[];
  /** Writes each renewed certificate to `<state-dir>/tls/` in one rename (the key is unchanged). */
  save: () => Promise<void>;
}

/**
 * The storage cluster's certificates, renewed on their own keys (valid LEAF_DAYS from now, the same names, the same
 * CA) when they expire within RENEW_WITHIN_DAYS or have expired, or every one with `renewAll` (`certs rotate`). A
 * certificate valid longer (an older fleet's 10-year ones) is used as it is. Nothing is written until `save()`, which
 * must run after loadS3Tls's own save (the files exist then).
 */
export async function renewStorageCerts(
  stateDir: string,
  s3: S3Tls,
  service: { name: string; namespace: string },
  ca: { cert: string; key: () => Promise<string> },
  opts: { renewAll?: boolean; now?: number } = {},
): Promise<StorageCerts> {
  let tls = s3;
  const renewals: Renewal[] = [];
  let signing: SigningCa | undefined;
  for (const leaf of storageLeaves(service)) {
    const before = tls[leaf.part];
    const why = opts.renewAll ? "rotated" : renewalDue(before, opts.now);
    if (!why) continue;
    signing ??= { cert: ca.cert, key: await ca.key() };
    const key = leaf.part === "cert" ? tls.key : tls.internalKey;
    const made = await signLeaf(
      signing,
      { name: leaf.name, sans: [...leaf.sans], cn: leaf.cn, alsoClient: leaf.alsoClient },
      key,
    );
    renewals.push({ name: leaf.name, before, after: made.cert, why });
    tls = { ...tls, [leaf.part]: made.cert };
  }
  const dir = join(stateDir, TLS_DIR);
  const save = async () => {
    for (const r of renewals) {
      const leaf = storageLeaves(service).find((l) => l.name === r.name);
      if (leaf) await replaceFile(join(dir, leaf.file), r.after);
    }
  };
  return { tls, renewals, save };
}
