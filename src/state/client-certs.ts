// The fleet's two client certificates (grpc-client, http-client): short-lived like the servers', and renewed on their
// own keys, so that every copy of one can be swapped in one rename while connections keep going.
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { type Renewal, renewalDue, replaceFile, signLeaf } from "./server-certs.ts";
import { CLIENT_NAMES, GRPC_CLIENT_FILES, type GrpcTls, HTTP_FILES, type HttpTls, TLS_DIR } from "./tls.ts";

/** The client certificates by the name `certs`, `up` and `certs rotate` give them, with their files. */
const CLIENTS = [
  { name: "grpc-client", kind: "grpc", file: GRPC_CLIENT_FILES.cert },
  { name: "http-client", kind: "http", file: HTTP_FILES.clientCert },
] as const;

export interface ClientCerts {
  grpc: GrpcTls;
  http: HttpTls;
  /** Each client certificate renewed (name `grpc-client`, `http-client`), with why. */
  renewals: Renewal[];
  /** Writes each renewed certificate to `<state-dir>/tls/` in one rename (the key is unchanged). */
  save: () => Promise<void>;
}

/**
 * The fleet's client certificates, renewed on their own keys (valid LEAF_DAYS from now, same subject, same CA) when
 * they expire within RENEW_WITHIN_DAYS, or every one with `renewAll` (`certs rotate`). A certificate valid longer
 * (an older fleet's 10-year ones) is used as it is. Nothing is written until `save()`, which must run after the
 * fleet material's own save (the tls dir exists then).
 */
export async function renewClientCerts(
  stateDir: string,
  tls: { grpc: GrpcTls; http: HttpTls },
  caKey: () => Promise<string>,
  opts: { renewAll?: boolean; now?: number } = {},
): Promise<ClientCerts> {
  let { grpc, http } = tls;
  const renewals: Renewal[] = [];
  for (const c of CLIENTS) {
    const now = c.kind === "grpc" ? grpc : http;
    const why = opts.renewAll ? "rotated" : renewalDue(now.clientCert, opts.now);
    if (!why) continue;
    const leaf = await signLeaf(
      { cert: tls.grpc.ca, key: await caKey() },
      { name: c.name, sans: [], clientCn: CLIENT_NAMES[c.kind] },
      now.clientKey,
    );
    renewals.push({ name: c.name, before: now.clientCert, after: leaf.cert, why });
    if (c.kind === "grpc") grpc = { ...grpc, clientCert: leaf.cert };
    else http = { ...http, clientCert: leaf.cert };
  }
  const dir = join(stateDir, TLS_DIR);
  const save = async () => {
    for (const r of renewals) {
      const c = CLIENTS.find((x) => x.name === r.name);
      if (c) await replaceFile(join(dir, c.file), r.after);
    }
  };
  return { grpc, http, renewals, save };
}

/** A renewed certificate as `certs rotate` reports it: its name, serials, and when the new one expires. */
export interface RenewedCert {
  name: string;
  serialBefore?: string;
  serialAfter: string;
  notAfter: string;
}

export function renewedCert(r: Renewal): RenewedCert {
  const after = new X509Certificate(r.after);
  return {
    name: r.name,
    ...(r.before ? { serialBefore: new X509Certificate(r.before).serialNumber } : {}),
    serialAfter: after.serialNumber,
    notAfter: new Date(Date.parse(after.validTo)).toISOString(),
  };
}
