// One short-lived certificate per server, for exactly the addresses it serves, signed by the fleet CA and kept in
// `<state-dir>/tls/servers/`; renewed on its own key so that every copy of it can be swapped in one rename.
import { execFile } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { daysLeft, LEAF_DAYS, RENEW_WITHIN_DAYS, renewalDue, TLS_DIR, TlsMaterialError } from "./tls.ts";

const run = promisify(execFile);

export const SERVERS_DIR = "servers";
/**
 * The prefix of a Kubernetes server workload's leaf name, `kube@<cluster>/<workload>` (file
 * `kube@<cluster>.<workload>.crt`): a local leaf is `<cluster>/<pod>/<container>`, and a cluster name (a DNS label)
 * never holds `@`, so a local and a Kubernetes fleet's leaves never clash in `servers/`.
 */
export const KUBE_LEAF_PREFIX = "kube@";
export { daysLeft, LEAF_DAYS, RENEW_WITHIN_DAYS, renewalDue };

/** A server that needs a certificate: its name (`cluster/pod/container`) and the addresses its clients dial. */
export interface LeafRequest {
  name: string;
  /** Subject alternative names as openssl writes them: `IP:127.77.1.5`, `DNS:localhost`. */
  sans: string[];
  /** A client certificate (`clientAuth`, no SANs) with this common name, in place of a server's. */
  clientCn?: string;
  /** A server certificate its holder also presents as a client (SeaweedFS's mutual TLS among its servers). */
  alsoClient?: boolean;
  /** The subject's common name, when not the leaf's file name (informative: clients check the SANs). */
  cn?: string;
}

export interface Leaf {
  cert: string;
  key: string;
}

/** The CA that signs the leaves: its certificate and key, as PEM. */
export interface SigningCa {
  cert: string;
  key: string;
}

/** A leaf that changed: what its copies held and what they hold from now on (`undefined` before: a new one). */
export interface Renewal {
  name: string;
  before?: string;
  after: string;
  why: string;
}

/** The file name of a server's leaf: `cluster/pod/container` becomes `cluster.pod.container`. */
export function leafFile(name: string): string {
  return name.replaceAll("/", ".");
}

export function serversDir(stateDir: string): string {
  return join(stateDir, TLS_DIR, SERVERS_DIR);
}

/** `IP Address:1.2.3.4, DNS:x` as node:crypto prints it, in openssl's config spelling, sorted. */
export function sansOf(cert: X509Certificate): string[] {
  const text = cert.subjectAltName ?? "";
  return text
    .split(", ")
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/^IP Address:/, "IP:"))
    .sort();
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    const why =
      e.code === "ENOENT" ? "openssl is not installed; install it (e.g. apt-get install openssl)" : e.stderr;
    throw new Error(`openssl ${args[0]} failed: ${why}`, { cause });
  }
}

/**
 * A server certificate for `sans` (or a client one, `clientCn`), valid LEAF_DAYS, signed by `ca`; on `key` when given (a renewal), else on a new
 * P-256 key. Made in a private temporary directory: nothing is written in the state dir.
 */
export async function signLeaf(ca: SigningCa, req: LeafRequest, key?: string): Promise<Leaf> {
  const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-leaf-"));
  try {
    await writeFile(join(dir, "ca.crt"), ca.cert, { mode: 0o600 });
    await writeFile(join(dir, "ca.key"), ca.key, { mode: 0o600 });
    if (key) await writeFile(join(dir, "leaf.key"), key, { mode: 0o600 });
    else
      await openssl(
        ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "leaf.key"],
        dir,
      );
    const ext =
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
      (req.clientCn !== undefined
        ? "extendedKeyUsage=clientAuth\n"
        : `extendedKeyUsage=serverAuth${req.alsoClient ? ",clientAuth" : ""}\nsubjectAltName=${req.sans.join(",")}\n`);
    await writeFile(join(dir, "leaf.ext"), ext, { mode: 0o600 });
    // The CN is informative only (clients check the SANs); openssl caps it at 64 characters.
    await openssl(
      [
        "req",
        "-new",
        "-key",
        "leaf.key",
        "-subj",
        `/CN=${(req.clientCn ?? req.cn ?? leafFile(req.name)).slice(0, 64)}`,
        "-out",
        "leaf.csr",
      ],
      dir,
    );
    const serial = randomBytes(16);
    serial[0] = (serial[0] as number) & 0x7f;
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        `0x${serial.toString("hex")}`,
        "-days",
        String(LEAF_DAYS),
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.crt",
      ],
      dir,
    );
    return {
      cert: await readFile(join(dir, "leaf.crt"), "utf8"),
      key: await readFile(join(dir, "leaf.key"), "utf8"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What is wrong with a leaf on disk that thanos-fleet cannot mend by itself (not renewal: a foreign CA, a wrong key). */
function unfit(name: string, leaf: Leaf, ca: X509Certificate): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(leaf.cert);
  } catch {
    return `${name}.crt is not a certificate`;
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(leaf.key))) return `${name}.key is not the key of ${name}.crt`;
  } catch {
    return `${name}.key is not a private key`;
  }
  if (!cert.verify(ca.publicKey)) return `${name}.crt is not signed by the fleet CA`;
  return undefined;
}

/** Why a fitting leaf must be renewed now, or undefined: expiry within RENEW_WITHIN_DAYS, other SANs than asked. */
function renewalReason(leaf: Leaf, req: LeafRequest, now: number): string | undefined {
  const due = renewalDue(leaf.cert, now);
  if (due) return due;
  const cert = new X509Certificate(leaf.cert);
  const want = [...req.sans].sort();
  const have = sansOf(cert);
  if (want.join(",") !== have.join(",")) {
    const gone = have.filter((x) => !want.includes(x)).map((x) => `-${x}`);
    const added = want.filter((x) => !have.includes(x)).map((x) => `+${x}`);
    return `its addresses changed (${[...gone, ...added].join(" ")})`;
  }
  return undefined;
}

/**
 * Every requested server's leaf from `<state-dir>/tls/servers/`: made when missing, renewed on its own key when it
 * expires within RENEW_WITHIN_DAYS, when its addresses changed, or for every leaf with `renewAll` (`certs rotate`).
 * A leaf with only one of its two files, a key that is not its certificate's, or one not signed by the CA is refused
 * (exit 2) before anything is written. Files of servers not asked for are left alone. `save()` writes what changed.
 */
export async function loadServerLeaves(
  stateDir: string,
  requests: LeafRequest[],
  ca: SigningCa,
  opts: { renewAll?: boolean; now?: number } = {},
): Promise<{ leaves: Map<string, Leaf>; renewals: Renewal[]; save: () => Promise<void> }> {
  const dir = serversDir(stateDir);
  const present = new Set(await readdir(dir).catch(() => [] as string[]));
  const caCert = new X509Certificate(ca.cert);
  const now = opts.now ?? Date.now();
  const wrong: string[] = [];
  const onDisk = new Map<string, Leaf>();
  for (const req of requests) {
    const f = leafFile(req.name);
    const [crt, key] = [present.has(`${f}.crt`), present.has(`${f}.key`)];
    if (crt !== key) {
      wrong.push(`${f}.${crt ? "key" : "crt"} is missing beside ${f}.${crt ? "crt" : "key"}`);
      continue;
    }
    if (!crt) continue;
    const leaf = {
      cert: await readFile(join(dir, `${f}.crt`), "utf8"),
      key: await readFile(join(dir, `${f}.key`), "utf8"),
    };
    const why = unfit(f, leaf, caCert);
    if (why) wrong.push(why);
    else onDisk.set(req.name, leaf);
  }
  if (wrong.length > 0) {
    throw new TlsMaterialError(
      `the servers' certificates in ${dir} cannot be used: ${wrong.join("; ")}. Nothing was changed.\n` +
        "  fix: restore the files from a backup, or move the named files (or the whole servers directory) away " +
        "to have new certificates made from the fleet CA",
    );
  }
  const leaves = new Map<string, Leaf>();
  const renewals: Renewal[] = [];
  for (const req of requests) {
    const old = onDisk.get(req.name);
    const why = old ? (opts.renewAll ? "rotated" : renewalReason(old, req, now)) : "new";
    if (old && !why) {
      leaves.set(req.name, old);
      continue;
    }
    const leaf = await signLeaf(ca, req, old?.key);
    leaves.set(req.name, leaf);
    renewals.push({
      name: req.name,
      ...(old ? { before: old.cert } : {}),
      after: leaf.cert,
      why: why ?? "new",
    });
  }
  const save = async () => {
    if (renewals.length === 0) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const r of renewals) {
      const f = leafFile(r.name);
      const leaf = leaves.get(r.name) as Leaf;
      // The key first (a renewal keeps it), then the certificate: each file is replaced in one rename.
      if (!r.before) await replaceFile(join(dir, `${f}.key`), leaf.key);
      await replaceFile(join(dir, `${f}.crt`), leaf.cert);
    }
  };
  return { leaves, renewals, save };
}

/** Writes `path` whole or not at all: a reader sees the old content or the new, never a part. */
export async function replaceFile(path: string, content: string): Promise<void> {
  const part = join(path, "..", `.${path.split("/").pop()}.part`);
  await writeFile(part, content, { mode: 0o600 });
  await rename(part, path);
}

/** One certificate of the fleet, as `thanos-fleet certs` lists it. */
export interface CertificateInfo {
  /** Its file, relative to `<state-dir>/tls/`. */
  file: string;
  subject: string;
  sans: string[];
  /** Who presents it (or, for the CA, who trusts it). */
  usedBy: string;
  notAfter: string;
  daysLeft: number;
  isCa: boolean;
  /** What is wrong with it, when something is: expired, not signed by the fleet CA. */
  problem?: string;
}

/** Who uses each of the files in `<state-dir>/tls/`. */
const USERS: Record<string, string> = {
  "ca.crt": "the fleet CA: signs every certificate below; every server and client of the fleet trusts it",
  "grpc-server.crt":
    "the shared StoreAPI certificate: only a render made before any up (node addresses unknown); every server has its own in servers/ (renewed on its key within 30 days of expiry)",
  "grpc-client.crt":
    "query, the rulers and receive's routers towards every StoreAPI server; Prometheus → receive (renewed on its key: up within 30 days of expiry, certs rotate)",
  "http-server.crt":
    "the shared HTTPS certificate: only a render made before any up (node addresses unknown); every server has its own in servers/ (renewed on its key within 30 days of expiry)",
  "http-client.crt":
    "every client of the HTTPS ports: Prometheus's scrapes and alerts, query-frontend → query, the rulers, HAProxy's checks, Grafana, thanos-fleet (verify, drill, bench, curl) (renewed on its key: up within 30 days of expiry, certs rotate)",
  "s3-server.crt":
    "the storage cluster's S3 API (SeaweedFS's S3 gateway, MinIO) (renewed on its key: up within 30 days of expiry, certs rotate)",
  "seaweedfs.crt":
    "SeaweedFS's master, volume server, filer and S3 gateway among themselves (mutual TLS) (renewed on its key: up within 30 days of expiry, certs rotate)",
};

/** Who presents a server's own certificate, from its file's name (without `.crt`). */
function serverUse(base: string): string {
  if (base.startsWith(KUBE_LEAF_PREFIX)) {
    const [cluster, ...rest] = base.slice(KUBE_LEAF_PREFIX.length).split(".");
    const workload = rest.join(".");
    return `Kubernetes: ${cluster}/${workload}, every pod of it (its gRPC and HTTPS ports; Secret ${workload}-tls)`;
  }
  return `local: ${base.replaceAll(".", "/")} (its gRPC and HTTPS ports)`;
}

/** Every certificate in `<state-dir>/tls/` and its servers/ directory, the CA first, then by file. */
export async function listCertificates(stateDir: string, now = Date.now()): Promise<CertificateInfo[]> {
  const dir = join(stateDir, TLS_DIR);
  const top = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".crt"));
  const servers = (await readdir(serversDir(stateDir)).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".crt"))
    .map((f) => `${SERVERS_DIR}/${f}`);
  const caText = top.includes("ca.crt") ? await readFile(join(dir, "ca.crt"), "utf8") : undefined;
  const ca = caText ? new X509Certificate(caText) : undefined;
  const out: CertificateInfo[] = [];
  for (const file of [
    ...top.sort((a, b) => (a === "ca.crt" ? -1 : b === "ca.crt" ? 1 : a.localeCompare(b))),
    ...servers.sort(),
  ]) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(await readFile(join(dir, file), "utf8"));
    } catch {
      continue;
    }
    const left = daysLeft(cert, now);
    const server = file.startsWith(`${SERVERS_DIR}/`)
      ? serverUse(file.slice(SERVERS_DIR.length + 1, -".crt".length))
      : undefined;
    const problem =
      left < 0 ? "expired" : ca && !cert.verify(ca.publicKey) ? "not signed by ca.crt" : undefined;
    out.push({
      file,
      subject: cert.subject.replaceAll("\n", ", "),
      sans: sansOf(cert),
      usedBy: server ?? USERS[file] ?? "not written by thanos-fleet",
      notAfter: new Date(Date.parse(cert.validTo)).toISOString(),
      daysLeft: left,
      isCa: cert.ca,
      ...(problem ? { problem } : {}),
    });
  }
  return out;
}
