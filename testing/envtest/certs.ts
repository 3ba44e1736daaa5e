// The PKI a throwaway API server needs (CA, serving cert, admin client cert, service-account keys), made with openssl.

import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface ControlPlanePki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** Client certificate of `envtest-admin` in group `system:masters`. */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key and its public half. */
  saKey: string;
  saPub: string;
}

const DAYS = "2";

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why =
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? "openssl is not installed (Debian/Ubuntu: apt-get install openssl)"
          : stderr.trim().split("\n").slice(-3).join(" / ");
      reject(new Error(`openssl ${args[0]} ${args.slice(1, 3).join(" ")}: ${why}`, { cause: err }));
    });
  });
}

const ecKey = (out: string): string[] => [
  "genpkey",
  "-algorithm",
  "EC",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-out",
  out,
];

/** A key, a CSR, and the certificate the CA signs for it with exactly the extensions given. */
async function leaf(dir: string, base: string, subject: string, extensions: string[]): Promise<void> {
  await openssl(ecKey(`${base}.key`), dir);
  await openssl(["req", "-new", "-key", `${base}.key`, "-subj", subject, "-out", `${base}.csr`], dir);
  await writeFile(join(dir, `${base}.ext`), `${extensions.join("\n")}\n`);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      DAYS,
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.crt`,
    ],
    dir,
  );
}

/** Writes the control plane's PKI into `dir` (which must exist). */
export async function generatePki(dir: string): Promise<ControlPlanePki> {
  await openssl(ecKey("ca.key"), dir);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=thanos-fleet-envtest-ca",
      "-days",
      DAYS,
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  const leafUsage = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
  ];
  await leaf(dir, "serving", "/CN=kube-apiserver", [
    ...leafUsage,
    "extendedKeyUsage=serverAuth",
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
  ]);
  await leaf(dir, "admin", "/O=system:masters/CN=envtest-admin", [
    ...leafUsage,
    "extendedKeyUsage=clientAuth",
  ]);
  await openssl(ecKey("sa.key"), dir);
  await openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

/** The PEM texts a TLS client needs to talk to the server as the admin. */
export async function adminCredentials(
  pki: ControlPlanePki,
): Promise<{ ca: string; cert: string; key: string }> {
  const [ca, cert, key] = await Promise.all(
    [pki.caCert, pki.adminCert, pki.adminKey].map((f) => readFile(f, "utf8")),
  );
  return { ca: ca as string, cert: cert as string, key: key as string };
}
