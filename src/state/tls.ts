// The fleet's own CA and StoreAPI certificates, made once with openssl and kept in the state dir (keys 0600).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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

/** The fleet's gRPC TLS material from the state dir, or new material that `save()` writes there (else a no-op). */
export async function loadGrpcTls(stateDir: string): Promise<{ tls: GrpcTls; save: () => Promise<void> }> {
  const dir = join(stateDir, TLS_DIR);
  try {
    return { tls: await readAll(dir), save: async () => {} };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`TLS material in ${dir} is unreadable; delete the directory to generate it anew`, {
        cause,
      });
    }
  }
  // Made in a private temporary directory and held in memory: the state dir is written only by save().
  const scratch = await mkdtemp(join(tmpdir(), "thanos-fleet-tls-"));
  const files = new Map<string, string>();
  try {
    await makeGrpcTls(scratch);
    for (const f of Object.values(FILES)) files.set(f, await readFile(join(scratch, f), "utf8"));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const save = async () => {
    // A half-made directory (interrupted run) is made again from scratch.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [f, text] of files) await writeFile(join(dir, f), text, { mode: 0o600 });
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
