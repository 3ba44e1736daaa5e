// Each local server's own certificate: which servers get one and for which addresses (from the plan), and how a
// renewed one reaches a running process: its copies replaced in place, each in one rename, nothing restarted.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { storageService } from "../../components/storage.ts";
import { type RenewedCert, renewClientCerts, renewedCert } from "../../state/client-certs.ts";
import type { Credentials } from "../../state/credentials.ts";
import { loadFleetCredentials } from "../../state/fleet-credentials.ts";
import {
  type Leaf,
  type LeafRequest,
  loadServerLeaves,
  type Renewal,
  replaceFile,
} from "../../state/server-certs.ts";
import { renewStorageCerts } from "../../state/storage-certs.ts";
import {
  type FleetCa,
  type GrpcTls,
  type HttpTls,
  loadFleetTls,
  loadGrpcTls,
  loadS3Tls,
} from "../../state/tls.ts";
import { loadUserCa } from "../../state/user-ca.ts";
import type { Topology } from "../../topology/topology.ts";
import { haproxyCommands } from "./haproxy.ts";
import { resolveLocalOptions } from "./options.ts";
import {
  type LocalOptions,
  type LocalPlan,
  localRoot,
  planLocalFleet,
  serverLeafRequests,
} from "./processes.ts";
import { readState } from "./state.ts";
import { checkLocalIssuer } from "./supported.ts";

/** The shared TLS material a first plan is built with; its servers' own leaves are made from the same CA. */
export interface FleetServerTls {
  grpc?: GrpcTls;
  http?: HttpTls;
  /** The fleet CA's key. */
  caKey: () => Promise<string>;
}

/**
 * The leaves of every server `plan` (built with the shared certificates) has, from `<state-dir>/tls/servers/`: made,
 * renewed or (with `renewAll`) all renewed. `save()` writes what changed there; nothing else is written.
 */
export async function planServerLeaves(
  stateDir: string,
  plan: LocalPlan,
  tls: FleetServerTls,
  opts: { renewAll?: boolean } = {},
) {
  const requests: LeafRequest[] = serverLeafRequests(plan, tls);
  const ca = (tls.grpc ?? tls.http)?.ca;
  if (requests.length === 0 || !ca) {
    return { leaves: new Map(), renewals: [] as Renewal[], save: async () => {} };
  }
  return loadServerLeaves(stateDir, requests, { cert: ca, key: await tls.caKey() }, opts);
}

/**
 * Replaces, in place, every copy of a certificate a running process holds that differs from the plan's (after a
 * renewal, or a rotation interrupted before it reached every process): one rename per file, the key unchanged, so a
 * handshake reads the old pair or the new, never a mix. Thanos (its gRPC server checks the files' times at each
 * handshake) and every exporter-toolkit HTTPS server (Thanos's --http.config, Prometheus, Alertmanager: the files
 * are read at each handshake) serve the new one from their next connection, with no restart. Returns the files
 * replaced. Files not there yet (a process not started) are left to its start.
 */
export async function refreshRunningCopies(plan: LocalPlan): Promise<string[]> {
  const replaced: string[] = [];
  for (const p of plan.processes) {
    for (const f of p.files) {
      if (!f.renewable) continue;
      const now = await readFile(f.path, "utf8").catch(() => undefined);
      if (now === undefined || now === f.content) continue;
      await replaceFile(f.path, f.content);
      if (f.haproxySocket) await handToHaproxy(f.haproxySocket, f.path, f.content);
      replaced.push(f.path);
    }
  }
  return replaced;
}

/**
 * HAProxy reads its health checks' client certificate at start only: the new one is handed to it over its stats
 * socket (`set ssl cert` then `commit ssl cert`, HAProxy ≥ 2.4), so the next check presents it, with no reload.
 */
export async function handToHaproxy(socket: string, path: string, pem: string): Promise<void> {
  const set = await haproxyCommands(socket, [`set ssl cert ${path} <<\n${pem.trimEnd()}\n`]);
  const commit = set.includes("Transaction")
    ? await haproxyCommands(socket, [`commit ssl cert ${path}`])
    : "";
  if (!commit.includes("Success")) {
    throw new Error(
      `HAProxy (stats socket ${socket}) did not take the renewed client certificate ${path}: ${set} ${commit}`.trim() +
        ". Its health checks present the previous one until it restarts: run 'thanos-fleet up' again",
    );
  }
}

/**
 * The local fleet's plan with everything it is made of: credentials, the fleet's TLS material, the storage
 * cluster's, and each server's own certificate (made, or renewed near its expiry; all with `renewAll`). Nothing is
 * written; `save()` writes what is new.
 */
export async function loadLocalPlan(
  topology: Topology,
  stateDir: string,
  options: LocalOptions,
  opts: { renewAll?: boolean } = {},
): Promise<{
  plan: LocalPlan;
  credentials: Credentials;
  own: { leaves: Map<string, Leaf>; renewals: Renewal[]; save: () => Promise<void> };
  /** The client certificates renewed (`grpc-client`, `http-client`); `own.save()` writes them too. */
  clientRenewals: Renewal[];
  /** The storage cluster's certificates renewed (`s3-server`, `seaweedfs`); `own.save()` writes them too. */
  storageRenewals: Renewal[];
  save: () => Promise<void>;
}> {
  const { credentials, save: saveCredentials } = await loadFleetCredentials(topology, stateDir);
  const fleetTls = topology.fleet.tls.grpc || topology.fleet.tls.http;
  const loaded = fleetTls ? await loadFleetTls(stateDir, await loadUserCa(topology)) : undefined;
  // The client certificates, renewed within 30 days of expiry (all of them with `renewAll`) on their own keys.
  const clients = loaded ? await renewClientCerts(stateDir, loaded, loaded.caKey, opts) : undefined;
  const tls = loaded && clients ? { ...loaded, grpc: clients.grpc, http: clients.http } : undefined;
  const service = topology.storage && topology.fleet.tls.s3 ? storageService(topology) : undefined;
  // The fleet CA signs the storage cluster's certificates too, with S3 over TLS alone (your own CA, with tls.ca).
  const ca: FleetCa | undefined = tls
    ? { tls: tls.grpc, caKey: tls.caKey, save: tls.save }
    : service
      ? await loadGrpcTls(stateDir, await loadUserCa(topology))
      : undefined;
  const s3 = service ? await loadS3Tls(stateDir, service, ca) : undefined;
  // The storage cluster's certificates, renewed like the client ones (SeaweedFS re-reads them: renewedInPlace).
  const storage =
    s3 && service && ca
      ? await renewStorageCerts(stateDir, s3.tls, service, { cert: ca.tls.ca, key: ca.caKey }, opts)
      : undefined;
  const grpc = topology.fleet.tls.grpc ? tls?.grpc : undefined;
  const http = topology.fleet.tls.http ? tls?.http : undefined;
  const plan = (leaves?: Map<string, Leaf>) =>
    planLocalFleet(topology, credentials, stateDir, options, grpc, http, storage?.tls ?? s3?.tls, leaves);
  // Each server's own certificate, for the addresses the first plan (with the shared ones) gives it.
  const own = tls
    ? await planServerLeaves(
        stateDir,
        plan(),
        { ...(grpc ? { grpc } : {}), ...(http ? { http } : {}), caKey: tls.caKey },
        opts,
      )
    : { leaves: new Map<string, Leaf>(), renewals: [], save: async () => {} };
  return {
    plan: plan(tls ? own.leaves : undefined),
    credentials,
    own: {
      ...own,
      save: async () => {
        await own.save();
        await clients?.save();
        await storage?.save();
      },
    },
    clientRenewals: clients?.renewals ?? [],
    storageRenewals: storage?.renewals ?? [],
    save: async () => {
      await saveCredentials();
      await ca?.save();
      await s3?.save();
    },
  };
}

export interface Rotation {
  /** Each renewed server's certificate: its name and serial before and after. */
  renewed: { name: string; serialBefore?: string; serialAfter: string }[];
  /** The fleet's client certificates (`grpc-client`, `http-client`), renewed on their own keys. */
  clients: RenewedCert[];
  /** The storage cluster's certificates (`s3-server`, `seaweedfs`), renewed on their own keys. */
  storage: RenewedCert[];
  /** The copies replaced in the running processes' config directories. */
  replacedFiles: number;
  /**
   * The processes that keep the previous HTTP client certificate (still valid) until the next `up` restarts them:
   * Thanos's HTTP clients do not re-read it (reloadsHttpClientCert).
   */
  restartPending: string[];
  /** Whether a fleet runs (its processes got the new certificates) or only the state dir was renewed. */
  running: boolean;
  ms: number;
}

/**
 * `certs rotate` on the local runtime: every server's certificate, the two client certificates and the storage
 * cluster's two renewed on their own keys (the CA unchanged), written to `<state-dir>/tls/` and then into every running
 * process's copy, one rename each (HAProxy's health-check copy handed over its stats socket). Nothing is restarted:
 * each server presents the new one from its next handshake (SeaweedFS within SEAWEEDFS_CERT_REFRESH), and a client trusts
 * it as it trusted the old (same CA), so queries never see a gap. A fleet that does not run gets the state dir's
 * certificates renewed; its next `up` uses them.
 */
export async function rotateLocalCerts(topology: Topology, stateDir: string): Promise<Rotation> {
  checkLocalIssuer(topology);
  const started = Date.now();
  const root = localRoot(stateDir);
  const existing = await readState(root);
  const options = resolveLocalOptions({}, process.env, topology.fleet.blocks, existing?.options);
  const { plan, own, clientRenewals, storageRenewals } = await loadLocalPlan(topology, stateDir, options, {
    renewAll: true,
  });
  await own.save();
  const replaced = existing ? await refreshRunningCopies(plan) : [];
  const renewedHttp = clientRenewals.find((r) => r.name === "http-client")?.after;
  const restartPending: string[] = [];
  for (const p of existing && renewedHttp ? plan.processes : []) {
    for (const f of p.files) {
      if (f.renewable || f.content !== renewedHttp) continue;
      const now = await readFile(f.path, "utf8").catch(() => undefined);
      if (now !== undefined && now !== f.content) restartPending.push(p.id);
    }
  }
  const serial = (pem: string) => new X509Certificate(pem).serialNumber;
  return {
    renewed: own.renewals.map((r) => ({
      name: r.name,
      ...(r.before ? { serialBefore: serial(r.before) } : {}),
      serialAfter: serial(r.after),
    })),
    clients: clientRenewals.map(renewedCert),
    storage: storageRenewals.map(renewedCert),
    replacedFiles: replaced.length,
    restartPending: [...new Set(restartPending)],
    running: existing !== undefined,
    ms: Date.now() - started,
  };
}

/**
 * Every copy of a renewable certificate a running process holds that is not the state dir's (its file on disk, or
 * for HAProxy the certificate it holds in memory, asked over its stats socket with `show ssl cert`): empty once a
 * rotation reached everything. Counts the copies checked.
 */
export async function staleCopies(
  topology: Topology,
  stateDir: string,
): Promise<{ checked: number; stale: string[] }> {
  const existing = await readState(localRoot(stateDir));
  const options = resolveLocalOptions({}, process.env, topology.fleet.blocks, existing?.options);
  const { plan } = await loadLocalPlan(topology, stateDir, options);
  const stale: string[] = [];
  let checked = 0;
  for (const p of plan.processes) {
    for (const f of p.files.filter((x) => x.renewable)) {
      const now = await readFile(f.path, "utf8").catch(() => undefined);
      if (now === undefined) continue;
      checked++;
      if (now !== f.content) stale.push(`${p.id}: ${f.path}`);
      if (!f.haproxySocket) continue;
      const want = new X509Certificate(f.content).serialNumber;
      const shown = await haproxyCommands(f.haproxySocket, [`show ssl cert ${f.path}`]).catch(String);
      const serial = /^Serial: ([0-9A-F]+)$/m.exec(shown)?.[1];
      if (serial?.replace(/^0+/, "") !== want.replace(/^0+/, ""))
        stale.push(`${p.id} holds serial ${serial ?? "?"} in memory, not ${want}`);
    }
  }
  return { checked, stale };
}
