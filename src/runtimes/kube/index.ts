// The Kubernetes runtime: kind clusters (or existing kube contexts) brought up by the steps in up.ts, torn down by
// down.ts, and reported to verify through endpoints.ts.

import { X509Certificate } from "node:crypto";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { NAMESPACE } from "../../components/context.ts";
import { storageService } from "../../components/storage.ts";
import type { FleetEndpoints } from "../../endpoints.ts";
import {
  ADDRESSES_FILE,
  type DiscoveredAddresses,
  kubeContext,
  readDiscoveredAddresses,
} from "../../render/addresses.ts";
import { HTTP_TLS_SECRET } from "../../render/helm.ts";
import { kubeLeafName } from "../../render/server-certs.ts";
import type { RenderedFleet } from "../../render/types.ts";
import { renewClientCerts, renewedCert } from "../../state/client-certs.ts";
import type { Credentials } from "../../state/credentials.ts";
import { ensureStateDir } from "../../state/dir.ts";
import { fleetCredentials, loadFleetCredentials } from "../../state/fleet-credentials.ts";
import { describePurged, purgeSecrets } from "../../state/purge.ts";
import { forgetRuntime, recordRuntime } from "../../state/runtime.ts";
import type { Leaf, Renewal } from "../../state/server-certs.ts";
import { renewStorageCerts } from "../../state/storage-certs.ts";
import {
  type FleetCa,
  type GrpcTls,
  type HttpTls,
  httpClientFiles,
  loadFleetTls,
  loadS3Tls,
  writeCaBundle,
} from "../../state/tls.ts";
import { loadIssuerCa, loadUserCa, trustBundle } from "../../state/user-ca.ts";
import { ConfigError } from "../../topology/errors.ts";
import { fleetPath, type Topology } from "../../topology/topology.ts";
import type { ProcessStatus, Runtime } from "../runtime.ts";
import { runSteps } from "../steps.ts";
import type { KubeApi } from "./api.ts";
import { type IssuedCertificate, issuedCertificates, renewIssued } from "./cert-manager.ts";
import {
  awaitPresented,
  handOverRenewedCerts,
  type KubeLeaves,
  loadKubeLeaves,
  presentedSerial,
  presentingClientFiles,
  type RotateSeams,
  type RotationReport,
  restartGrafana,
  rotateInCluster,
} from "./certs.ts";
import { downFleet } from "./down.ts";
import { kubeEndpoints, resolvePod } from "./endpoints.ts";
import { EndpointProxy } from "./proxy.ts";
import { type KubeDeps, newRunContext, realDeps } from "./run-context.ts";
import { readState, removeState } from "./state.ts";
import { preflightAction, upActions } from "./up.ts";
import { summaryLines } from "./urls.ts";
import type { Clock } from "./wait.ts";

export { createKubeApi, FIELD_MANAGER, type KubeApi, loadKubeConfig, MANAGED_BY_LABEL } from "./api.ts";
export { type KubeDeps, realDeps } from "./run-context.ts";

export interface KubeRuntime extends Runtime {
  /** Stops the loopback proxy that endpoints() started (it does not keep the process alive by itself). */
  close(): Promise<void>;
  /**
   * `certs rotate`: every server's certificate renewed on its own key, each Secret written in place, then each server
   * pod asked until it presents the new one. A fleet that is not up gets the state dir's certificates renewed.
   */
  rotateCerts(
    topology: Topology,
    opts: { stateDir: string; progress: (line: string) => void; timeoutMs?: number },
  ): Promise<RotationReport>;
  /**
   * `certs` with a cert-manager Issuer: each server's Certificate, with its not-after from the cluster when it can be
   * reached (rendered for the addresses an earlier `up` found, or without them before any `up`).
   */
  issuedCertificates(topology: Topology, opts: { stateDir: string }): Promise<IssuedCertificate[]>;
  /** What the drill's faults act on: the fleet as rendered for this state dir, its API seam and clock. */
  faultTarget(
    topology: Topology,
    opts: { stateDir: string },
  ): Promise<{ fleet: RenderedFleet; api: (context: string) => KubeApi; clock: Clock }>;
}

/**
 * With `tls.grpc`, `tls.http` or the storage cluster's `tls.s3`, every render of this fleet carries the fleet's TLS
 * material (made once, kept in the state dir): `save()` writes new material there. Each server's own certificate
 * comes with `serverCerts(discovered)` (which `up` calls once the addresses are known, and which writes what it made)
 * or, for a fleet already up, `loadLeaves(discovered)` (nothing written): every render after it carries them, and
 * its clients verify what they dial (no pinned server name).
 */
async function withFleetTls(
  deps: KubeDeps,
  topology: Topology,
  stateDir: string,
  credentials: Credentials,
  /** `up` (renewal within 30 days of expiry) and `certs rotate` (`renewAll`) renew the client certificates. */
  renewClients?: { renewAll?: boolean },
): Promise<{
  deps: KubeDeps;
  save: () => Promise<void>;
  /** The client certificates renewed on their own keys (`grpc-client`, `http-client`); save() writes them. */
  clientRenewals: Renewal[];
  /** The storage cluster's certificates renewed on their own keys (`s3-server`, `seaweedfs`); save() writes them. */
  storageRenewals: Renewal[];
  http?: HttpTls;
  grpc?: GrpcTls;
  /** The servers' own certificates for these addresses, from the state dir (made in memory where missing). */
  loadLeaves: (discovered: DiscoveredAddresses, flags?: { renewAll?: boolean }) => Promise<KubeLeaves>;
}> {
  const none = async (): Promise<KubeLeaves> => ({ leaves: new Map(), renewals: [], save: async () => {} });
  const { grpc: wantGrpc, http: wantHttp } = topology.fleet.tls;
  const wantS3 = topology.storage !== undefined && topology.fleet.tls.s3;
  if (!wantGrpc && !wantHttp && !wantS3)
    return { deps, save: async () => {}, clientRenewals: [], storageRenewals: [], loadLeaves: none };
  const userCa = await loadUserCa(topology);
  // With a cert-manager Issuer, its CA is checked before anything is created, and trusted beside the fleet CA.
  const issuerCa = await loadIssuerCa(topology);
  const loaded = await loadFleetTls(stateDir, userCa);
  const clients = renewClients
    ? await renewClientCerts(stateDir, loaded, loaded.caKey, renewClients)
    : undefined;
  const fleet = clients ? { ...loaded, grpc: clients.grpc, http: clients.http } : loaded;
  const ca: FleetCa = { tls: fleet.grpc, caKey: fleet.caKey, save: fleet.save };
  const service = wantS3 ? storageService(topology) : undefined;
  const s3 = service ? await loadS3Tls(stateDir, service, ca) : undefined;
  // The storage cluster's certificates, renewed like the client ones (SeaweedFS re-reads them: renewedInPlace).
  const storage =
    s3 && service && renewClients
      ? await renewStorageCerts(
          stateDir,
          s3.tls,
          service,
          { cert: fleet.grpc.ca, key: fleet.caKey },
          renewClients,
        )
      : undefined;
  const tls = {
    ...(wantGrpc ? { grpcTls: fleet.grpc } : {}),
    ...(wantHttp ? { httpTls: fleet.http } : {}),
    ...(s3 ? { s3Tls: storage?.tls ?? s3.tls } : {}),
  };
  const save = async () => {
    await ca.save();
    await clients?.save();
    await s3?.save();
    await storage?.save();
    if (issuerCa) await writeCaBundle(stateDir, trustBundle(fleet.grpc.ca, issuerCa));
  };
  let leaves: Map<string, Leaf> | undefined;
  const loadLeaves = async (discovered: DiscoveredAddresses, flags: { renewAll?: boolean } = {}) => {
    // With a cert-manager Issuer, cert-manager makes every server's certificate in its cluster.
    if ((!wantGrpc && !wantHttp) || issuerCa) return none();
    const loaded = await loadKubeLeaves(
      topology,
      stateDir,
      { credentials, ...tls },
      discovered,
      { cert: fleet.grpc.ca, key: fleet.caKey },
      flags,
    );
    leaves = loaded.leaves;
    return loaded;
  };
  // thanos-fleet's own clients verify what they dial, and with an Issuer trust its CA too.
  const unpinned = <T extends { serverName: string; ca: string }>(t: T): T =>
    issuerCa
      ? { ...t, serverName: "", ca: trustBundle(t.ca, issuerCa) }
      : leaves
        ? { ...t, serverName: "" }
        : t;
  return {
    deps: {
      ...deps,
      render: (t, opts) =>
        deps.render(t, {
          ...opts,
          ...tls,
          ...(leaves ? { serverLeaves: leaves } : {}),
          ...(issuerCa ? { issuerCa } : {}),
        }),
      serverCerts: async (discovered) => {
        const loaded = await loadLeaves(discovered);
        await loaded.save();
        return loaded.renewals;
      },
    },
    save,
    clientRenewals: clients?.renewals ?? [],
    storageRenewals: storage?.renewals ?? [],
    get http() {
      return wantHttp ? unpinned(fleet.http) : undefined;
    },
    get grpc() {
      return wantGrpc ? unpinned(fleet.grpc) : undefined;
    },
    loadLeaves,
  };
}

/** `up --images FILE` (relative to the working directory), else fleet.yaml's images.archive (relative to fleet.yaml). */
function imagesArchive(topology: Topology, flag?: string): string | undefined {
  if (flag) return resolve(flag);
  const file = topology.fleet.images.archive;
  return file ? fleetPath(topology, file) : undefined;
}

/** A fleet an earlier `up` left, rendered from the state dir, with what reporting on it needs. */
interface Loaded {
  credentials: Credentials;
  discovered: DiscoveredAddresses;
  fleet: RenderedFleet;
  http?: HttpTls;
  grpc?: GrpcTls;
}

export function createKubeRuntime(deps: KubeDeps = realDeps()): KubeRuntime {
  const proxy = new EndpointProxy();

  /** What an earlier `up` left, rendered once: without it there is no fleet to report on. */
  const load = async (topology: Topology, stateDir: string): Promise<Loaded> => {
    const state = await readState(stateDir);
    const discovered = await readDiscoveredAddresses(stateDir);
    if (Object.keys(state.clusters).length === 0 || !discovered) {
      throw new Error(`no fleet is up on Kubernetes from state dir ${stateDir}; run 'thanos-fleet up' first`);
    }
    const credentials = await fleetCredentials(topology, stateDir);
    const tls = await withFleetTls(deps, topology, stateDir, credentials);
    await tls.loadLeaves(discovered);
    const fleet = tls.deps.render(topology, { credentials, discovered });
    return {
      discovered,
      credentials,
      fleet,
      ...(tls.http ? { http: tls.http } : {}),
      ...(tls.grpc ? { grpc: tls.grpc } : {}),
    };
  };

  /** What the fleet reports to verify, from a render the caller already has. */
  const report = (topology: Topology, stateDir: string, loaded: Loaded): Promise<FleetEndpoints> => {
    const { credentials, discovered, fleet, http, grpc } = loaded;
    return kubeEndpoints({
      topology,
      fleet,
      credentials,
      discovered,
      api: deps.api,
      proxy,
      // Every request thanos-fleet sends to an HTTPS port presents the client certificate from the state dir.
      ...(http
        ? {
            httpTls: {
              material: http,
              client: httpClientFiles(stateDir, http.serverName, {
                bundle: topology.fleet.tls.issuer !== undefined,
              }),
            },
          }
        : {}),
      ...(grpc ? { grpcTls: grpc } : {}),
    });
  };

  const endpoints = async (topology: Topology, stateDir: string): Promise<FleetEndpoints> =>
    report(topology, stateDir, await load(topology, stateDir));

  return {
    name: "kubernetes",

    async up(topology, opts) {
      const { credentials, save: saveCredentials } = await loadFleetCredentials(topology, opts.stateDir);
      const tls = await withFleetTls(deps, topology, opts.stateDir, credentials, {});
      const ctx = newRunContext({
        topology,
        // The verify step runs the verify `up` was handed; without one (`up --no-verify`) it is left out.
        deps: { ...tls.deps, verify: opts.verify ?? tls.deps.verify },
        stateDir: opts.stateDir,
        reporter: opts.reporter,
        signal: opts.signal,
        verbose: opts.verbose,
        state: await readState(opts.stateDir),
        credentials,
        discovered: await readDiscoveredAddresses(opts.stateDir),
        // The verify that ends `up` reads the render `up` applied, with the addresses it discovered.
        endpoints: () => {
          if (!ctx.discovered) throw new Error("up has not discovered the node addresses yet");
          return report(topology, opts.stateDir, {
            credentials,
            discovered: ctx.discovered,
            fleet: ctx.fleet,
            ...(tls.http ? { http: tls.http } : {}),
            ...(tls.grpc ? { grpc: tls.grpc } : {}),
          });
        },
        imagesArchive: imagesArchive(topology, opts.images),
      });
      await runSteps(ctx, [preflightAction]);
      // Nothing is written, not even to the state dir, until preflight has passed.
      await ensureStateDir(opts.stateDir);
      await recordRuntime(opts.stateDir, "kubernetes");
      await saveCredentials();
      await tls.save();
      for (const r of tls.clientRenewals) {
        opts.reporter.info(`renewed the client certificate ${r.name} on its own key: ${r.why}`);
      }
      for (const r of tls.storageRenewals) {
        opts.reporter.info(`renewed the storage cluster's certificate ${r.name} on its own key: ${r.why}`);
      }
      await runSteps(ctx, upActions(ctx));
      if (topology.fleet.grafana && tls.clientRenewals.some((r) => r.name === "http-client")) {
        // Grafana reads its datasource's client certificate only when it provisions: the Secret just applied
        // reaches it by a restart.
        for (const rc of ctx.fleet.clusters.filter((c) =>
          c.secrets.some((x) => x.metadata.name === HTTP_TLS_SECRET),
        )) {
          await restartGrafana(deps.api(rc.context), deps.clock.now());
          opts.reporter.info(
            `  ${rc.cluster}: Grafana restarted (rollout) to read the renewed client certificate`,
          );
        }
      }
      for (const line of summaryLines(topology, ctx.fleet, ctx.discovered, opts.stateDir)) {
        opts.reporter.info(line);
      }
      if (ctx.verifyResult) opts.reporter.info(`\n${ctx.verifyResult.text.trimEnd()}`);
    },

    async down(_topology, opts) {
      await downFleet(deps, await readState(opts.stateDir), opts);
      if (opts.purge) {
        await removeState(opts.stateDir);
        await rm(join(opts.stateDir, ADDRESSES_FILE), { force: true });
        await forgetRuntime(opts.stateDir, "kubernetes");
        const purged = await purgeSecrets(opts.stateDir);
        if (purged.deleted.length > 0) opts.reporter.info(describePurged(opts.stateDir, purged));
      }
    },

    endpoints: (topology, opts) => endpoints(topology, opts.stateDir),

    async status(topology, opts): Promise<ProcessStatus[]> {
      if (Object.keys((await readState(opts.stateDir)).clusters).length === 0) return [];
      const loaded = await load(topology, opts.stateDir);
      const { fleet } = loaded;
      const reported = await report(topology, opts.stateDir, loaded);
      const rows: ProcessStatus[] = [];
      for (const rc of fleet.clusters) {
        const api = deps.api(rc.context);
        const pods = (await api.list("v1", "Pod", { namespace: NAMESPACE })) as {
          metadata?: { name?: string };
          status?: {
            podIP?: string;
            conditions?: { type: string; status: string }[];
            containerStatuses?: { restartCount?: number }[];
          };
        }[];
        for (const t of reported.targets.filter(
          (x) => x.cluster === rc.cluster && x.component !== "grafana",
        )) {
          const m = /^(.*)-(\d+)$/.exec(t.pod);
          const name = m?.[1] ? await resolvePod(api, rc, m[1], Number(m[2])).catch(() => t.pod) : t.pod;
          const live = pods.find((p) => p.metadata?.name === name);
          rows.push({
            cluster: rc.cluster,
            component: t.component,
            pod: name,
            address: live?.status?.podIP ?? "-",
            ready: (live?.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
            restarts: (live?.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
            // Proxied URLs live only as long as this process: report host ports only.
            urls: proxy.owns(t.url) ? {} : { http: t.url },
          });
        }
      }
      return rows;
    },

    async rotateCerts(topology, opts) {
      const started = Date.now();
      const state = await readState(opts.stateDir);
      const discovered = await readDiscoveredAddresses(opts.stateDir);
      const running = Object.keys(state.clusters).length > 0 && discovered !== undefined;
      const issuer = topology.fleet.tls.issuer;
      if (issuer && !running) {
        throw new ConfigError(topology.source, [
          {
            field: "tls.issuer",
            message: "no fleet is up on Kubernetes: its certificates are cert-manager's, in the clusters",
            fix: "run 'thanos-fleet up' first; cert-manager renews each Certificate by itself 30 days before it expires (renewBefore)",
          },
        ]);
      }
      const credentials = await fleetCredentials(topology, opts.stateDir);
      const tls = await withFleetTls(deps, topology, opts.stateDir, credentials, { renewAll: true });
      await tls.save();
      const own = await tls.loadLeaves(discovered ?? { nodeIP: {} }, { renewAll: true });
      await own.save();
      const serial = (pem: string) => new X509Certificate(pem).serialNumber;
      const clients = tls.clientRenewals.map(renewedCert);
      const storage = tls.storageRenewals.map(renewedCert);
      const renewed = own.renewals.map((r) => ({
        name: r.name,
        ...(r.before ? { serialBefore: serial(r.before) } : {}),
        serialAfter: serial(r.after),
      }));
      if (!running || !discovered) {
        const none = { renewedObjects: [], renewedObjectsDeferred: [], grafanaRestarted: [] };
        return {
          renewed,
          clients,
          storage,
          ...none,
          secrets: [],
          pods: [],
          running,
          ms: Date.now() - started,
        };
      }
      const fleet = tls.deps.render(topology, { credentials, discovered });
      // The client and storage certificates first: every peer trusts the new one as the old (same CA), so the order
      // is free.
      const handed = await handOverRenewedCerts(fleet, [...tls.clientRenewals, ...tls.storageRenewals], {
        writeObject: async (cluster, object) => {
          await deps.api(kubeContext(topology, cluster)).serverSideApply(object);
        },
        restartGrafana: (cluster) =>
          restartGrafana(deps.api(kubeContext(topology, cluster)), deps.clock.now()),
        grafana: topology.fleet.grafana,
      });
      const context = (cluster: string) => kubeContext(topology, cluster);
      // SeaweedFS presents its renewed certificates too once the kubelet updated its files (MinIO: the next up).
      const storageWant = new Map(storage.map((c) => [c.name, c.serialAfter]));
      const servers = issuer
        ? await rotateIssued(fleet, opts, storageWant)
        : {
            renewed,
            ...(await rotateInCluster(
              fleet,
              own.renewals,
              {
                writeSecret: async (cluster, secret) => {
                  await deps.api(context(cluster)).serverSideApply(secret);
                },
                ...presentSeams(fleet, opts),
              },
              storageWant,
            )),
          };
      return {
        clients,
        storage,
        renewedObjects: handed.objects,
        renewedObjectsDeferred: handed.deferred,
        grafanaRestarted: handed.grafanaRestarted,
        ...servers,
        running,
        ms: Date.now() - started,
      };
    },

    async issuedCertificates(topology, opts) {
      const issuer = topology.fleet.tls.issuer;
      if (!issuer) return [];
      const credentials = await fleetCredentials(topology, opts.stateDir);
      const tls = await withFleetTls(deps, topology, opts.stateDir, credentials);
      const discovered = await readDiscoveredAddresses(opts.stateDir);
      const fleet = tls.deps.render(topology, { credentials, ...(discovered ? { discovered } : {}) });
      return issuedCertificates(fleet.clusters, issuer, deps.api);
    },

    async faultTarget(topology, opts) {
      const { fleet } = await load(topology, opts.stateDir);
      return { fleet, api: deps.api, clock: deps.clock };
    },

    close: () => proxy.close(),
  };

  /** How `certs rotate` asks each server pod which certificate it presents (a handshake through a port-forward). */
  function presentSeams(
    fleet: RenderedFleet,
    opts: { stateDir: string; progress: (line: string) => void; timeoutMs?: number },
  ): Omit<RotateSeams, "writeSecret"> {
    const files = presentingClientFiles(opts.stateDir, issued(fleet));
    return {
      presented: async (p) => {
        const rc = fleet.clusters.find((c) => c.cluster === p.cluster);
        if (!rc) return undefined;
        const api = deps.api(rc.context);
        const url = await proxy.forward(`${p.cluster}/${p.workload}-${p.index}/${p.port}/tls`, {
          api,
          target: async () => ({
            resource: "pods",
            namespace: NAMESPACE,
            name: await resolvePod(api, rc, p.workload, p.index),
            port: p.port,
          }),
        });
        return presentedSerial(new URL(url), files[p.client], p.client === "grpc" ? "h2" : "http/1.1");
      },
      clock: deps.clock,
      progress: opts.progress,
      timeoutMs: opts.timeoutMs ?? 180_000,
      pollMs: 5_000,
    };
  }

  /**
   * `certs rotate`'s servers with a cert-manager Issuer: each Certificate re-issued as `cmctl renew` asks
   * (Issuing=True), on its own key, then every server pod asked until it presents the new certificate, as without one.
   */
  async function rotateIssued(
    fleet: RenderedFleet,
    opts: { stateDir: string; progress: (line: string) => void; timeoutMs?: number },
    alsoWant: Map<string, string>,
  ): Promise<Pick<RotationReport, "renewed" | "secrets" | "pods">> {
    const renewed: RotationReport["renewed"] = [];
    const want = new Map<string, string>(alsoWant);
    const timeoutMs = opts.timeoutMs ?? 180_000;
    for (const rc of fleet.clusters) {
      const api = deps.api(rc.context);
      for (const certificate of rc.certificates ?? []) {
        const name = kubeLeafName(rc.cluster, certificate.metadata.name);
        opts.progress(`  ${rc.cluster}/${certificate.metadata.name}: re-issuance asked of cert-manager`);
        const r = await renewIssued(api, certificate, { clock: deps.clock, timeoutMs });
        renewed.push({ name, ...r });
        want.set(name, r.serialAfter);
      }
    }
    const pods = await awaitPresented(fleet, want, presentSeams(fleet, opts));
    return { renewed, secrets: [], pods };
  }
}

/** Whether cert-manager writes the servers' Secrets in this fleet. */
function issued(fleet: RenderedFleet): boolean {
  return fleet.clusters.some((rc) => (rc.certificates ?? []).length > 0);
}

export const kubeRuntime: KubeRuntime = createKubeRuntime(realDeps());
