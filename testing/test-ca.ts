// A self-signed CA for tests, made with openssl: what a user's own CA, or the one a cert-manager CA issuer signs
// with, looks like.

import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface TestCaOptions {
  /** The certificate's file name in the directory; default `ca.crt` (its key is always `ca.key`). */
  certFile?: string;
  /** Default `/CN=test CA`. */
  subject?: string;
  /** Default 2. */
  days?: number;
}

/** Writes a P-256 CA (CA:TRUE, keyCertSign and cRLSign) into `dir`; the paths of its certificate and key. */
export function makeTestCa(dir: string, opts: TestCaOptions = {}): { cert: string; key: string } {
  const cert = join(dir, opts.certFile ?? "ca.crt");
  const key = join(dir, "ca.key");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...[
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        String(opts.days ?? 2),
        "-subj",
        opts.subject ?? "/CN=test CA",
      ],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ],
    { stdio: "pipe", timeout: 30_000 },
  );
  return { cert, key };
}
