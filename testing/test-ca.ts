// A self-signed CA for tests, made with openssl: what a user's own CA, or the one a cert-manager CA issuer signs
// with, looks like.

import { execFileSync } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
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

/**
 * Re-signs the certificate `cert` (in `dir`, beside `ca.crt` and `ca.key`, on its key `key`) so that it expired
 * yesterday, with the extensions `ext` (openssl's extfile syntax). `openssl ca` is the one openssl 3.0 command that
 * sets both dates of a certificate.
 */
export function expireLeaf(dir: string, cert: string, key: string, subject: string, ext: string): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const scratch = (f: string) => join(dir, `.expire.${f}`);
  writeFileSync(scratch("ext"), ext);
  writeFileSync(
    scratch("cnf"),
    `[ca]\ndefault_ca=c\n[c]\ndatabase=${scratch("index")}\nnew_certs_dir=${dir}\nserial=${scratch("serial")}\n` +
      "default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n",
  );
  writeFileSync(scratch("index"), "");
  writeFileSync(scratch("serial"), "1000\n");
  openssl("req", "-new", "-key", key, "-subj", subject, "-out", scratch("csr"));
  const day = 86_400_000;
  const stamp = (t: number) => `${new Date(t).toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
  openssl(
    ...["ca", "-batch", "-notext", "-config", scratch("cnf"), "-cert", "ca.crt", "-keyfile", "ca.key"],
    ...[
      "-in",
      scratch("csr"),
      "-startdate",
      stamp(Date.now() - 2 * day),
      "-enddate",
      stamp(Date.now() - day),
    ],
    ...["-extfile", scratch("ext"), "-out", cert],
  );
  for (const f of readdirSync(dir).filter((x) => x.startsWith(".expire.") || /^[0-9A-F]+\.pem$/.test(x)))
    rmSync(join(dir, f));
}
