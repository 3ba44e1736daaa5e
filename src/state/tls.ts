// The fleet's own CA and StoreAPI certificates, made once with openssl and kept in the state dir (keys 0600).
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
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

/**
 * PEM material for HTTPS on every HTTP server whose port leaves its cluster: servers present `cert` and accept only
 * clients with a certificate from the fleet CA; every client of the fleet presents `clientCert`.
 */
export interface HttpTls {
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  /** The name clients verify the server certificate against, whatever address they dial. */
  serverName: string;
}

export const TLS_DIR = "tls";
/** HTTPS clients verify the server certificate against this name (also valid: localhost, 127.0.0.1). */
export const HTTP_SERVER_NAME = "thanos-fleet-http";
/** Clients verify the server certificate against this name, not the address they dial. */
export const GRPC_SERVER_NAME = "thanos-fleet-grpc";
/** The CA's validity. */
const DAYS = "3650";
/** How long a leaf is valid (a server's, a client's, the storage cluster's): `up` renews it within 30 days of expiry. */
export const LEAF_DAYS = 90;
/** `up` renews a leaf this close to its expiry. */
export const RENEW_WITHIN_DAYS = 30;
const DAY_MS = 86_400_000;

export function daysLeft(cert: X509Certificate, now = Date.now()): number {
  return Math.floor((Date.parse(cert.validTo) - now) / DAY_MS);
}

/** Why a certificate must be renewed now, or undefined: it expires within RENEW_WITHIN_DAYS (or has). */
export function renewalDue(cert: string, now = Date.now()): string | undefined {
  const left = daysLeft(new X509Certificate(cert), now);
  if (left < RENEW_WITHIN_DAYS) return left < 0 ? "expired" : `expires in ${left} day(s)`;
  return undefined;
}

/** query's (and every gRPC client's) certificate and key in `<state-dir>/tls/`. */
export const GRPC_CLIENT_FILES = { cert: "grpc-client.crt", key: "grpc-client.key" } as const;

const FILES = {
  ca: "ca.crt",
  caKey: "ca.key",
  cert: "grpc-server.crt",
  key: "grpc-server.key",
  clientCert: GRPC_CLIENT_FILES.cert,
  clientKey: GRPC_CLIENT_FILES.key,
} as const;

/** The client certificates' common names (informative: servers check the chain to the fleet CA). */
export const CLIENT_NAMES = { grpc: "thanos-query", http: "thanos-fleet" } as const;

/** The HTTP leaves, signed by the same CA; a tls dir made before them gets them added at the next up. */
export const HTTP_FILES = {
  cert: "http-server.crt",
  key: "http-server.key",
  clientCert: "http-client.crt",
  clientKey: "http-client.key",
} as const;

/**
 * With a cert-manager Issuer (`tls.issuer`): the fleet CA and the issuer's, which thanos-fleet's own clients trust
 * (`ca.crt` stays the fleet CA alone: it is checked against the CA's key, and the local runtime reads it).
 */
export const CA_BUNDLE_FILE = "ca-bundle.crt";

/** Writes the trust bundle beside ca.crt (not secret: 0644), replacing an older one in one rename. */
export async function writeCaBundle(stateDir: string, bundle: string): Promise<string> {
  const path = join(stateDir, TLS_DIR, CA_BUNDLE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bundle, { mode: 0o644 });
  await rename(tmp, path);
  return path;
}

/** The fleet's client certificate, its key and the CA, as files: how thanos-fleet reaches a server with `tls.http`. */
export interface HttpClientFiles {
  ca: string;
  cert: string;
  key: string;
  /** The name the server certificate is verified against. */
  serverName: string;
}

/**
 * `serverName` "": each server presents its own certificate for the addresses it serves (the local runtime's
 * servers/ leaves), so the address dialled is what is verified.
 */
export function httpClientFiles(
  stateDir: string,
  serverName = HTTP_SERVER_NAME,
  opts: { bundle?: boolean } = {},
): HttpClientFiles {
  const dir = join(stateDir, TLS_DIR);
  return {
    ca: join(dir, opts.bundle ? CA_BUNDLE_FILE : FILES.ca),
    cert: join(dir, HTTP_FILES.clientCert),
    key: join(dir, HTTP_FILES.clientKey),
    serverName,
  };
}

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

/** A certificate signed by the fleet CA, with the extensions in `ext`, valid `days`, on `<name>.key` or a new key. */
async function issue(dir: string, name: string, subject: string, ext: string, days = DAYS): Promise<void> {
  const extFile = `${name}.ext`;
  await writeFile(join(dir, extFile), ext, { mode: 0o600 });
  if (!(await exists(join(dir, `${name}.key`)))) {
    await openssl(
      ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`],
      dir,
    );
  }
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
      days,
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

/**
 * What is wrong with complete material on disk (expired, not signed by the CA, a key for another certificate).
 * `caKey` false: the CA's key is not in the dir (the user's own CA, checked where it is). A `renewable` leaf may have
 * expired: it is renewed on its key (client-certs.ts, storage-certs.ts), not refused.
 */
async function problems(
  dir: string,
  leaves: { cert: string; key: string; renewable?: boolean }[],
  caKey = true,
): Promise<string[]> {
  const found: string[] = [];
  const check = async (args: string[], problem: string) => {
    try {
      await run("openssl", args, { cwd: dir });
    } catch {
      found.push(problem);
    }
  };
  for (const cert of [FILES.ca, ...leaves.filter((l) => !l.renewable).map((l) => l.cert)]) {
    await check(
      ["x509", "-in", cert, "-noout", "-checkend", "0"],
      `${cert} has expired or is not a certificate`,
    );
  }
  const certs = leaves.map((l) => l.cert);
  await check(
    ["verify", "-no_check_time", "-CAfile", FILES.ca, ...certs],
    `${certs.join(" or ")} is not signed by ${FILES.ca}`,
  );
  const pairs: [string, string][] = [
    ...(caKey ? [[FILES.ca, FILES.caKey] as [string, string]] : []),
    ...leaves.map((l): [string, string] => [l.cert, l.key]),
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

const GRPC_LEAVES = [
  { cert: FILES.cert, key: FILES.key, renewable: true },
  { cert: FILES.clientCert, key: FILES.clientKey, renewable: true },
];
const HTTP_LEAVES = [
  { cert: HTTP_FILES.cert, key: HTTP_FILES.key, renewable: true },
  { cert: HTTP_FILES.clientCert, key: HTTP_FILES.clientKey, renewable: true },
];

function unusable(dir: string, wrong: string[]): TlsMaterialError {
  return new TlsMaterialError(
    `the fleet's TLS material in ${dir} cannot be used: ${wrong.join("; ")}.\n` +
      "  fix: restore the files from a backup, or move the directory away to have a new CA made " +
      "(every cluster then gets the new certificates at the next up)",
  );
}

function incomplete(dir: string, set: readonly string[], present: Set<string>): TlsMaterialError {
  const missing = set.filter((f) => !present.has(f));
  return new TlsMaterialError(
    `the fleet's TLS material in ${dir} is incomplete: ${missing.join(", ")} missing ` +
      `(${set.filter((f) => present.has(f)).join(", ")} present). Nothing was changed.\n` +
      "  fix: restore the missing files, or move the directory away to have a new CA made",
  );
}

/**
 * With the user's own CA: a tls dir made from another CA (one thanos-fleet made, with its ca.key, or another
 * ca.crt) is refused, nothing changed: its certificates would not be trusted by clients of the user's CA.
 */
async function refuseOtherCa(dir: string, present: Set<string>, userCert: string): Promise<void> {
  const fix =
    `  fix: move ${dir} away to have the fleet's certificates made from your CA (the next up hands them to every ` +
    "server), or remove tls.ca from fleet.yaml to keep using the CA there";
  if (present.has(FILES.caKey)) {
    throw new TlsMaterialError(
      `fleet.yaml names your own CA (tls.ca), but ${dir} holds a CA thanos-fleet made (${FILES.caKey}). Nothing was changed.\n${fix}`,
    );
  }
  if (present.has(FILES.ca)) {
    const there = await readFile(join(dir, FILES.ca), "utf8");
    if (there.trim() !== userCert.trim()) {
      throw new TlsMaterialError(
        `fleet.yaml names your own CA (tls.ca), but ${join(dir, FILES.ca)} is another CA. Nothing was changed.\n${fix}`,
      );
    }
  }
}

/** Runs `make` in a private temporary directory holding `given`, and returns the files `keep` it made. */
async function inScratch(
  given: Map<string, string>,
  make: (dir: string) => Promise<void>,
  keep: readonly string[],
): Promise<Map<string, string>> {
  const scratch = await mkdtemp(join(tmpdir(), "thanos-fleet-tls-"));
  try {
    for (const [f, text] of given) await writeFile(join(scratch, f), text, { mode: 0o600 });
    await make(scratch);
    const out = new Map<string, string>();
    for (const f of keep) out.set(f, await readFile(join(scratch, f), "utf8"));
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The fleet's TLS material from the state dir: the CA with the gRPC leaves (one set, made together) and the HTTP
 * leaves (added beside a set made before them). What is missing is made in memory; `save()` writes it (else a no-op).
 */
export async function loadFleetTls(
  stateDir: string,
  /** The user's own CA (fleet.yaml's tls.ca, checked by loadUserCa): it signs what is made; its key stays where it is. */
  userCa?: { cert: string; key: string },
): Promise<{ grpc: GrpcTls; http: HttpTls; caKey: () => Promise<string>; save: () => Promise<void> }> {
  const dir = join(stateDir, TLS_DIR);
  const present = new Set(await readdir(dir).catch(() => [] as string[]));
  const core = Object.values(FILES).filter((f) => !userCa || f !== FILES.caKey);
  if (userCa) await refuseOtherCa(dir, present, userCa.cert);
  const http = Object.values(HTTP_FILES);
  const coreMissing = core.filter((f) => !present.has(f));
  const httpMissing = http.filter((f) => !present.has(f));
  if (coreMissing.length > 0 && coreMissing.length < core.length) throw incomplete(dir, core, present);
  if (httpMissing.length > 0 && httpMissing.length < http.length) throw incomplete(dir, http, present);
  if (coreMissing.length === core.length && httpMissing.length < http.length) {
    throw incomplete(dir, [...core, ...http], present);
  }
  const wrong = [
    ...(coreMissing.length === 0 ? await problems(dir, GRPC_LEAVES, !userCa) : []),
    ...(coreMissing.length === 0 && httpMissing.length === 0
      ? await problems(dir, HTTP_LEAVES, !userCa)
      : []),
  ];
  if (wrong.length > 0) throw unusable(dir, [...new Set(wrong)]);

  // What is missing is made in a private temporary directory and held in memory: the state dir is written only by
  // save().
  const made = new Map<string, string>();
  const givenCa = new Map(
    userCa
      ? [
          [FILES.ca as string, userCa.cert],
          [FILES.caKey as string, userCa.key],
        ]
      : [],
  );
  if (coreMissing.length > 0) {
    const make = userCa ? makeGrpcLeaves : makeGrpcTls;
    for (const [f, text] of await inScratch(givenCa, make, core)) made.set(f, text);
  }
  const read = async (f: string) =>
    f === FILES.caKey && userCa ? userCa.key : (made.get(f) ?? (await readFile(join(dir, f), "utf8")));
  if (httpMissing.length > 0) {
    const ca = new Map([
      [FILES.ca, await read(FILES.ca)],
      [FILES.caKey, await read(FILES.caKey)],
    ]);
    for (const [f, text] of await inScratch(ca, makeHttpLeaves, http)) made.set(f, text);
  }
  // The shared stand-ins are renewed here, on their keys, when due: no running server presents them (client-certs.ts
  // renews the client certificates, which do reach what runs).
  for (const [cert, key, make] of [
    [FILES.cert, FILES.key, makeGrpcServer],
    [HTTP_FILES.cert, HTTP_FILES.key, makeHttpServer],
  ] as const) {
    if (made.has(cert) || !renewalDue(await read(cert))) continue;
    const given = new Map([
      [FILES.ca as string, await read(FILES.ca)],
      [FILES.caKey as string, await read(FILES.caKey)],
      [key as string, await read(key)],
    ]);
    for (const [f, text] of await inScratch(given, make, [cert])) made.set(f, text);
  }
  const save = async () => {
    if (made.size > 0) await writeFiles(stateDir, present.size === 0, made);
  };
  const grpc = await tlsOf(read);
  const httpTls: HttpTls = {
    ca: grpc.ca,
    cert: await read(HTTP_FILES.cert),
    key: await read(HTTP_FILES.key),
    clientCert: await read(HTTP_FILES.clientCert),
    clientKey: await read(HTTP_FILES.clientKey),
    serverName: HTTP_SERVER_NAME,
  };
  return { grpc, http: httpTls, caKey: () => read(FILES.caKey), save };
}

/** The fleet CA's material as loaded (or made): pass it to loadS3Tls so that one CA signs every leaf. */
export interface FleetCa {
  tls: GrpcTls;
  /** The CA's key, to sign further leaves with. */
  caKey: () => Promise<string>;
  save: () => Promise<void>;
}

/** The fleet's gRPC TLS material from the state dir, or new material that `save()` writes there (else a no-op). */
export async function loadGrpcTls(
  stateDir: string,
  userCa?: { cert: string; key: string },
): Promise<FleetCa> {
  const { grpc, caKey, save } = await loadFleetTls(stateDir, userCa);
  return { tls: grpc, caKey, save };
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

/** Every file thanos-fleet writes at the top of `<state-dir>/tls/` (its servers/ directory aside). */
export function generatedTlsFiles(): string[] {
  const pems = [
    ...Object.values(FILES),
    ...Object.values(HTTP_FILES),
    ...Object.values(S3_FILES),
    CA_BUNDLE_FILE,
  ];
  return pems;
}

/** Clients of the storage cluster's S3 API verify its certificate against this name. */
export const S3_SERVER_NAME = "thanos-fleet-s3";
export const SEAWEEDFS_NAME = "thanos-fleet-seaweedfs";

export const S3_FILES = {
  cert: "s3-server.crt",
  key: "s3-server.key",
  internalCert: "seaweedfs.crt",
  internalKey: "seaweedfs.key",
} as const;

/**
 * The names the S3 certificate carries: the fixed name clients verify, the storage Service's names in its cluster
 * (MinIO's setup Job dials it), and loopback. Node addresses change with the nodes; clients verify the fixed name.
 */
export function s3Sans(service: { name: string; namespace: string }): string[] {
  const { name, namespace } = service;
  const dns = [
    S3_SERVER_NAME,
    name,
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.cluster.local`,
    "localhost",
  ];
  return [...dns.map((d) => `DNS:${d}`), "IP:127.0.0.1"];
}

/** SeaweedFS's own certificate's names: its servers verify each other against the fixed name. */
export const SEAWEEDFS_SANS = [`DNS:${SEAWEEDFS_NAME}`, "DNS:localhost", "IP:127.0.0.1"];

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
  const core = ca ?? (await loadGrpcTls(stateDir));
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
    const wrong = await problems(dir, [
      { cert: S3_FILES.cert, key: S3_FILES.key, renewable: true },
      { cert: S3_FILES.internalCert, key: S3_FILES.internalKey, renewable: true },
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
      `${common}extendedKeyUsage=serverAuth\nsubjectAltName=${s3Sans(service).join(",")}\n`,
      String(LEAF_DAYS),
    );
    await issue(
      scratch,
      "seaweedfs",
      `/CN=${SEAWEEDFS_NAME}`,
      `${common}extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${SEAWEEDFS_SANS.join(",")}\n`,
      String(LEAF_DAYS),
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

/** Reads the fleet's gRPC TLS material, creating the CA and certificates on first use. */
export async function loadOrCreateGrpcTls(
  stateDir: string,
  userCa?: { cert: string; key: string },
): Promise<GrpcTls> {
  const { tls, save } = await loadGrpcTls(stateDir, userCa);
  await save();
  return tls;
}

/** Reads the fleet's TLS material, gRPC and HTTP, creating what is missing. */
export async function loadOrCreateFleetTls(
  stateDir: string,
  userCa?: { cert: string; key: string },
): Promise<{ grpc: GrpcTls; http: HttpTls }> {
  const { grpc, http, save } = await loadFleetTls(stateDir, userCa);
  await save();
  return { grpc, http };
}

/** The HTTP server's certificate (for HTTP_SERVER_NAME, localhost and 127.0.0.1) and the fleet's client one. */
async function makeHttpLeaves(dir: string): Promise<void> {
  const common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  await makeHttpServer(dir);
  await issue(
    dir,
    "http-client",
    `/CN=${CLIENT_NAMES.http}`,
    `${common}extendedKeyUsage=clientAuth\n`,
    String(LEAF_DAYS),
  );
  await rm(join(dir, "ca.srl"), { force: true });
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
  await makeGrpcLeaves(dir);
}

const SERVER_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";

/**
 * The shared stand-ins for a render made before any `up` (node addresses unknown): one certificate for every gRPC
 * server (GRPC_SERVER_NAME) and one for every HTTPS server (HTTP_SERVER_NAME, localhost, 127.0.0.1), valid LEAF_DAYS,
 * on the key in `dir` when there is one (a renewal).
 */
async function makeGrpcServer(dir: string): Promise<void> {
  await issue(
    dir,
    "grpc-server",
    `/CN=${GRPC_SERVER_NAME}`,
    `${SERVER_EXT}subjectAltName=DNS:${GRPC_SERVER_NAME}\n`,
    String(LEAF_DAYS),
  );
}

async function makeHttpServer(dir: string): Promise<void> {
  await issue(
    dir,
    "http-server",
    `/CN=${HTTP_SERVER_NAME}`,
    `${SERVER_EXT}subjectAltName=DNS:${HTTP_SERVER_NAME},DNS:localhost,IP:127.0.0.1\n`,
    String(LEAF_DAYS),
  );
}

/** The gRPC server certificate for GRPC_SERVER_NAME and query's client certificate, from the CA in `dir`. */
async function makeGrpcLeaves(dir: string): Promise<void> {
  const common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  await makeGrpcServer(dir);
  await issue(
    dir,
    "grpc-client",
    `/CN=${CLIENT_NAMES.grpc}`,
    `${common}extendedKeyUsage=clientAuth\n`,
    String(LEAF_DAYS),
  );
  await rm(join(dir, "ca.srl"), { force: true });
}
