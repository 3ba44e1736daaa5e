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
export async function loadGrpcTls(stateDir: string): Promise<FleetCa> {
  return loadCore(stateDir);
}

/** The fleet CA's material as loaded (or made): pass it to loadS3Tls so that one CA signs every leaf. */
export interface FleetCa {
  tls: GrpcTls;
  /** The CA's key, to sign further leaves with. */
  caKey: () => Promise<string>;
  save: () => Promise<void>;
}

/** The CA and gRPC material, with the CA's key (to sign further leaves with). */
async function loadCore(stateDir: string): Promise<FleetCa> {
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
    return {
      tls: await readAll(dir),
      caKey: () => readFile(join(dir, FILES.caKey), "utf8"),
      save: async () => {},
    };
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
  const save = () => writeFiles(stateDir, present.size === 0, files);
  return {
    tls: await tlsOf((f) => files.get(f) as string),
    caKey: async () => files.get(FILES.caKey) as string,
    save,
  };
}

async function writeFiles(stateDir: string, empty: boolean, files: Map<string, string>): Promise<void> {
  const dir = join(stateDir, TLS_DIR);
  // A new directory is filled aside and renamed into place, so the set appears whole or not at all. In a
  // directory that exists (made by hand, holding other files) the files are written beside what is there,
  // each renamed into place after all are written, and nothing there is removed.
  const fresh = empty && !(await exists(dir));
  if (fresh) await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const target = fresh ? await mkdtemp(join(stateDir, `.${TLS_DIR}-`)) : dir;
  for (const [f, text] of files) await writeFile(join(target, `.${f}.part`), text, { mode: 0o600 });
  for (const f of files.keys()) await rename(join(target, `.${f}.part`), join(target, f));
  if (fresh) {
    await chmod(target, 0o700);
    await rename(target, dir);
  }
}

/**
 * The storage cluster's TLS material, from the fleet CA: the S3 API's server certificate, and SeaweedFS's own
 * certificate (server and client) for the mutual TLS between its master, volume server, filer and S3 gateway.
 */
export interface S3Tls {
  ca: string;
  cert: string;
  key: string;
  internalCert: string;
  internalKey: string;
  /** The name clients verify the S3 certificate against, whatever address they dial. */
  serverName: string;
}

/** Clients of the storage cluster's S3 API verify its certificate against this name. */
export const S3_SERVER_NAME = "thanos-fleet-s3";
const SEAWEEDFS_NAME = "thanos-fleet-seaweedfs";

const S3_FILES = {
  cert: "s3-server.crt",
  key: "s3-server.key",
  internalCert: "seaweedfs.crt",
  internalKey: "seaweedfs.key",
} as const;

/**
 * The names the S3 certificate carries: the fixed name clients verify, the storage Service's names in its cluster
 * (MinIO's setup Job dials it), and loopback. Node addresses change with the nodes; clients verify the fixed name.
 */
function s3Names(service: string, namespace: string): string {
  const dns = [
    S3_SERVER_NAME,
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
    "localhost",
  ];
  return [...dns.map((d) => `DNS:${d}`), "IP:127.0.0.1"].join(",");
}

/**
 * The storage cluster's TLS material from the state dir, or new leaves signed by the fleet CA (made with the gRPC
 * material when there is none yet); `save()` writes what is new. Given `ca` (what loadGrpcTls returned), its save
 * must run first: this one then writes only the storage cluster's leaves.
 */
export async function loadS3Tls(
  stateDir: string,
  service: { name: string; namespace: string },
  ca?: FleetCa,
): Promise<{ tls: S3Tls; save: () => Promise<void> }> {
  const core = ca ?? (await loadCore(stateDir));
  const dir = join(stateDir, TLS_DIR);
  const present = new Set(await readdir(dir).catch(() => [] as string[]));
  const ours = Object.values(S3_FILES);
  const missing = ours.filter((f) => !present.has(f));
  const of = (read: (f: string) => string) => ({
    ca: core.tls.ca,
    cert: read(S3_FILES.cert),
    key: read(S3_FILES.key),
    internalCert: read(S3_FILES.internalCert),
    internalKey: read(S3_FILES.internalKey),
    serverName: S3_SERVER_NAME,
  });
  if (missing.length === 0) {
    const wrong = await leafProblems(dir, [
      [S3_FILES.cert, S3_FILES.key],
      [S3_FILES.internalCert, S3_FILES.internalKey],
    ]);
    if (wrong.length > 0) {
      throw new TlsMaterialError(
        `the storage cluster's TLS material in ${dir} cannot be used: ${wrong.join("; ")}.\n` +
          `  fix: restore the files from a backup, or move ${ours.join(", ")} away to have new ones made`,
      );
    }
    const texts = new Map<string, string>();
    for (const f of ours) texts.set(f, await readFile(join(dir, f), "utf8"));
    return { tls: of((f) => texts.get(f) as string), save: ca ? async () => {} : core.save };
  }
  if (missing.length < ours.length) {
    throw new TlsMaterialError(
      `the storage cluster's TLS material in ${dir} is incomplete: ${missing.join(", ")} missing ` +
        `(${ours.filter((f) => present.has(f)).join(", ")} present). Nothing was changed.\n` +
        "  fix: restore the missing files, or move the present ones away to have new ones made",
    );
  }
  const scratch = await mkdtemp(join(tmpdir(), "thanos-fleet-tls-"));
  const files = new Map<string, string>();
  try {
    await writeFile(join(scratch, FILES.ca), core.tls.ca, { mode: 0o600 });
    await writeFile(join(scratch, FILES.caKey), await core.caKey(), { mode: 0o600 });
    const common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
    await issue(
      scratch,
      "s3-server",
      `/CN=${S3_SERVER_NAME}`,
      `${common}extendedKeyUsage=serverAuth\nsubjectAltName=${s3Names(service.name, service.namespace)}\n`,
    );
    await issue(
      scratch,
      "seaweedfs",
      `/CN=${SEAWEEDFS_NAME}`,
      `${common}extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:${SEAWEEDFS_NAME},DNS:localhost,IP:127.0.0.1\n`,
    );
    for (const f of ours) files.set(f, await readFile(join(scratch, f), "utf8"));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const save = async () => {
    if (!ca) await core.save();
    await writeFiles(stateDir, false, files);
  };
  return { tls: of((f) => files.get(f) as string), save };
}

/** What is wrong with leaves on disk: expired, not signed by the fleet CA, or a key for another certificate. */
async function leafProblems(dir: string, pairs: [string, string][]): Promise<string[]> {
  const found: string[] = [];
  const ok = (args: string[]) =>
    run("openssl", args, { cwd: dir }).then(
      (r) => r.stdout,
      () => undefined,
    );
  for (const [cert, key] of pairs) {
    if ((await ok(["x509", "-in", cert, "-noout", "-checkend", "0"])) === undefined) {
      found.push(`${cert} has expired or is not a certificate`);
      continue;
    }
    if ((await ok(["verify", "-CAfile", FILES.ca, cert])) === undefined) {
      found.push(`${cert} is not signed by ${FILES.ca}`);
    }
    const [a, b] = await Promise.all([
      ok(["x509", "-in", cert, "-noout", "-pubkey"]),
      ok(["pkey", "-in", key, "-pubout"]),
    ]);
    if (a === undefined || a !== b) found.push(`${key} is not the key of ${cert}`);
  }
  return found;
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
