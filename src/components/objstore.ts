// The Thanos objstore.yml for an S3 bucket: one place for its format.

import { stringify } from "../yaml.ts";
import type { ObjectStoreAccess } from "./context.ts";

export const OBJSTORE_FILE = "objstore.yml";
/** The fleet CA, beside objstore.yml, for the storage cluster's HTTPS. */
export const S3_CA_FILE = "s3-ca.crt";

/**
 * A second bucket in the storage cluster, made by the admin identity and left empty: verify proves with it that
 * Thanos's key can neither read nor delete a bucket other than its own.
 */
export const SCOPE_CHECK_BUCKET = "thanos-fleet-scope-check";

/** With `tls` (the storage cluster's HTTPS), Thanos verifies the server's certificate against the fleet CA. */
export function objstoreConfig(
  store: ObjectStoreAccess,
  tls?: { caFile: string; serverName: string },
): string {
  return stringify({
    type: "S3",
    config: {
      bucket: store.bucket,
      endpoint: store.endpoint,
      region: store.region ?? "",
      access_key: store.accessKey,
      secret_key: store.secretKey,
      insecure: store.insecure,
      signature_version2: false,
      ...(tls
        ? {
            http_config: {
              insecure_skip_verify: false,
              tls_config: { ca_file: tls.caFile, server_name: tls.serverName, insecure_skip_verify: false },
            },
          }
        : {}),
    },
  });
}
