// The fleet's own CA and StoreAPI certificates, made once with openssl and kept in the state dir (keys 0600).
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM material for mutual TLS on the StoreAPI gRPC: servers present `cert`, query presents `clientCert`. */
export interface GrpcTls {
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  /** The name clients verify the server certificate against, whatever address they dial. */
  serverName: string;
}

export const TLS_DIR = "tls";
/** Clients verify the server certificate against this name, not the address they dial. */
export const GRPC_SERVER_NAME = "thanos-fleet-grpc";
const DAYS = "3650";

const FILES = {
  ca: "ca.crt",
  caKey: "ca.key",
  cert: "grpc-server.crt",
  key: "grpc-server.key",
  clientCert: "grpc-client.crt",
  clientKey: "grpc-client.key",
} as const;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    const why =
      e.code === "ENOENT" ? "openssl is not installed; install it (e.g. apt-get install openssl)" : e.stderr;
    throw new Error(`openssl ${args[0]} failed in ${cwd}: ${why}`, { cause });
  }
}

/** A key and a certificate signed by the fleet CA, with the extensions in `ext`. */
async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  const extFile = `${name}.ext`;
  await writeFile(join(dir, extFile), ext, { mode: 0o600 });
  await openssl(
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`],
    dir,
  );
  await openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      FILES.ca,
      "-CAkey",
      FILES.caKey,
      "-CAcreateserial",
      "-days",
      DAYS,
      "-extfile",
      extFile,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  await rm(join(dir, `${name}.csr`));
  await rm(join(dir, extFile));
}

function readAll(dir: string): Promise<GrpcTls> {
  return tlsOf((f) => readFile(join(dir, f), "utf8"));
}

async function tlsOf(read: (file: string) => string | Promise<string>): Promise<GrpcTls> {
  return {
    ca: await read(FILES.ca),
    cert: await read(FILES.cert),
    key: await read(FILES.key),
    clientCert: await read(FILES.clientCert),
    clientKey: await read(FILES.clientKey),
    serverName: GRPC_SERVER_NAME,
  };
}

/** A problem with TLS material a person can fix from the message alone: exit 2, nothing started or removed. */
export class TlsMaterialError extends Error {
  readonly exitCode = 2;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** What is wrong with complete material on disk (expired, not signed by the CA, a key for another certificate). */
async function problems(dir: string): Promise<string[]> {
  const found: string[] = [];
  const check = async (args: string[], problem: string) => {
    try {
      await run("openssl", args, { cwd: dir });
    } catch {
      found.push(problem);
    }
  };
  for (const cert of [FILES.ca, FILES.cert, FILES.clientCert]) {
    await check(
      ["x509", "-in", cert, "-noout", "-checkend", "0"],
      `${cert} has expired or is not a certificate`,
    );
  }
  await check(
    ["verify", "-CAfile", FILES.ca, FILES.cert, FILES.clientCert],
    `${FILES.cert} or ${FILES.clientCert} is not signed by ${FILES.ca}`,
  );
  const pairs: [string, string][] = [
    [FILES.ca, FILES.caKey],
    [FILES.cert, FILES.key],
    [FILES.clientCert, FILES.clientKey],
  ];
  for (const [cert, key] of pairs) {
    const pub = async (args: string[]) => (await run("openssl", args, { cwd: dir })).stdout;
    try {
      const [a, b] = await Promise.all([
        pub(["x509", "-in", cert, "-noout", "-pubkey"]),
        pub(["pkey", "-in", key, "-pubout"]),
      ]);
      if (a !== b) found.push(`${key} is not the key of ${cert}`);
    } catch {
      found.push(`${key} or ${cert} cannot be read as PEM`);
    }
  }
  return found;
}

/** The fleet's gRPC TLS material from the state dir, or new material that `save()` writes there (else a no-op). */
export async function loadGrpcTls(stateDir: string): Promise<{ tls: GrpcTls; save: () => Promise<void> }> {
  const dir = join(stateDir, TLS_DIR);
  const present = new Set(await readdir(dir).catch(() => [] as string[]));
  const ours = Object.values(FILES);
  const missing = ours.filter((f) => !present.has(f));
  if (missing.length === 0) {
    const wrong = await problems(dir);
    if (wrong.length > 0) {
      throw new TlsMaterialError(
        `the fleet's TLS material in ${dir} cannot be used: ${wrong.join("; ")}.\n` +
          "  fix: restore the files from a backup, or move the directory away to have a new CA made " +
          "(every cluster then gets the new certificates at the next up)",
      );
    }
    return { tls: await readAll(dir), save: async () => {} };
  }
  if (missing.length < ours.length) {
    throw new TlsMaterialError(
      `the fleet's TLS material in ${dir} is incomplete: ${missing.join(", ")} missing ` +
        `(${ours.filter((f) => present.has(f)).join(", ")} present). Nothing was changed.\n` +
        "  fix: restore the missing files, or move the directory away to have a new CA made",
    );
  }
  // Made in a private temporary directory and held in memory: the state dir is written only by save().
  const scratch = await mkdtemp(join(tmpdir(), "thanos-fleet-tls-"));
  const files = new Map<string, string>();
  try {
    await makeGrpcTls(scratch);
    for (const f of ours) files.set(f, await readFile(join(scratch, f), "utf8"));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const save = async () => {
    // A new directory is filled aside and renamed into place, so the set appears whole or not at all. In a
    // directory that exists (made by hand, holding other files) the files are written beside what is there,
    // each renamed into place after all are written, and nothing there is removed.
    const fresh = present.size === 0 && !(await exists(dir));
    if (fresh) await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const target = fresh ? await mkdtemp(join(stateDir, `.${TLS_DIR}-`)) : dir;
    for (const [f, text] of files) await writeFile(join(target, `.${f}.part`), text, { mode: 0o600 });
    for (const f of files.keys()) await rename(join(target, `.${f}.part`), join(target, f));
    if (fresh) {
      await chmod(target, 0o700);
      await rename(target, dir);
    }
  };
  return { tls: await tlsOf((f) => files.get(f) as string), save };
}

/** Reads the fleet's gRPC TLS material, creating the CA and certificates on first use. */
export async function loadOrCreateGrpcTls(stateDir: string): Promise<GrpcTls> {
  const { tls, save } = await loadGrpcTls(stateDir);
  await save();
  return tls;
}

/** A fleet CA, a server certificate for GRPC_SERVER_NAME and query's client certificate, in `dir`. */
async function makeGrpcTls(dir: string): Promise<void> {
  await openssl(
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", FILES.caKey],
    dir,
  );
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      FILES.caKey,
      "-subj",
      "/CN=thanos-fleet CA",
      "-days",
      DAYS,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      FILES.ca,
    ],
    dir,
  );
  const common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  await issue(
    dir,
    "grpc-server",
    `/CN=${GRPC_SERVER_NAME}`,
    `${common}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${GRPC_SERVER_NAME}\n`,
  );
  await issue(dir, "grpc-client", "/CN=thanos-query", `${common}extendedKeyUsage=clientAuth\n`);
  await rm(join(dir, "ca.srl"), { force: true });
}
