// The fleet's own CA and StoreAPI certificates, made once with openssl and kept in the state dir (keys 0600).
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { GrpcTls } from "../components/context.ts";

const run = promisify(execFile);

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

async function readAll(dir: string): Promise<GrpcTls> {
  const read = (f: string) => readFile(join(dir, f), "utf8");
  return {
    ca: await read(FILES.ca),
    cert: await read(FILES.cert),
    key: await read(FILES.key),
    clientCert: await read(FILES.clientCert),
    clientKey: await read(FILES.clientKey),
    serverName: GRPC_SERVER_NAME,
  };
}

/** Reads the fleet's gRPC TLS material, creating the CA and certificates on first use. */
export async function loadOrCreateGrpcTls(stateDir: string): Promise<GrpcTls> {
  const dir = join(stateDir, TLS_DIR);
  try {
    return await readAll(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`TLS material in ${dir} is unreadable; delete the directory to generate it anew`, {
        cause,
      });
    }
  }
  // A half-made directory (interrupted run) is made again from scratch.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
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
  for (const f of [FILES.caKey, FILES.key, FILES.clientKey]) await chmod(join(dir, f), 0o600);
  return readAll(dir);
}
