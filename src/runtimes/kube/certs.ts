// Each Kubernetes server workload's own certificate: made, renewed and kept in `<state-dir>/tls/servers/` like the
// local runtime's (state/server-certs.ts), for the SANs the render gives it (render/server-certs.ts).
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connect } from "node:tls";
import { NAMESPACE } from "../../components/context.ts";
import type { FleetSpec } from "../../components/fleet.ts";
import { STORAGE_CERT_PORTS } from "../../components/seaweedfs.ts";
import { TLS_FILES } from "../../components/thanos/common.ts";
import { type PodSpec, podName } from "../../components/types.ts";
import { HTTP_TLS_FILES, renewedInPlace } from "../../components/web.ts";
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import { HTTP_TLS_SECRET } from "../../render/helm.ts";
import { kubeLeafRequests, type RenderOptions } from "../../render/render.ts";
import { parseKubeLeafName, serverTlsSecretName } from "../../render/server-certs.ts";
import type { KubeObject, RenderedFleet } from "../../render/types.ts";
import type { RenewedCert } from "../../state/client-certs.ts";
import { type Leaf, loadServerLeaves, type Renewal } from "../../state/server-certs.ts";
import { CA_BUNDLE_FILE, GRPC_CLIENT_FILES, httpClientFiles, TLS_DIR } from "../../state/tls.ts";
import type { Topology } from "../../topology/topology.ts";
import type { KubeApi } from "./api.ts";
import type { Clock } from "./wait.ts";

/** What a render needs to know which servers serve TLS: the options without the servers' own certificates. */
export type LeafRenderOptions = Omit<RenderOptions, "serverLeaves" | "discovered" | "outDir">;

export interface KubeLeaves {
  leaves: Map<string, Leaf>;
  renewals: Renewal[];
  /** Writes what was made or renewed to `<state-dir>/tls/servers/`. */
  save: () => Promise<void>;
}

/**
 * Every Kubernetes server's own certificate for these addresses, from `<state-dir>/tls/servers/`: made when missing,
 * renewed on its own key when it expires within 30 days or its addresses changed, or (`renewAll`: `certs rotate`)
 * every one. Nothing is written until `save()`.
 */
export async function loadKubeLeaves(
  topology: Topology,
  stateDir: string,
  opts: LeafRenderOptions,
  discovered: DiscoveredAddresses | undefined,
  ca: { cert: string; key: () => Promise<string> },
  flags: { renewAll?: boolean } = {},
): Promise<KubeLeaves> {
  const requests = kubeLeafRequests(topology, { ...opts, ...(discovered ? { discovered } : {}) });
  if (requests.length === 0) return { leaves: new Map(), renewals: [], save: async () => {} };
  return loadServerLeaves(stateDir, requests, { cert: ca.cert, key: await ca.key() }, flags);
}

/** One server pod, and the port where it presents its certificate (the gRPC port, else its HTTPS port). */
export interface PresentingPod {
  /** `kube@<cluster>/<workload>`. */
  leaf: string;
  cluster: string;
  workload: string;
  index: number;
  port: number;
  /** Which of the fleet's client certificates the port asks for. */
  client: "grpc" | "http";
}

/** Every pod of the renewed servers, with the port where it presents its own certificate. */
export function presentingPods(spec: FleetSpec, leaves: string[]): PresentingPod[] {
  const out: PresentingPod[] = [];
  for (const leaf of leaves) {
    const at = parseKubeLeafName(leaf);
    const pod = at && spec.pods.find((p) => p.cluster === at.cluster && p.name === at.workload);
    if (!pod) continue;
    const where = presentingPort(pod);
    if (!where) continue;
    for (let i = 0; i < pod.replicas; i++)
      out.push({ leaf, cluster: pod.cluster, workload: pod.name, index: i, ...where });
  }
  return out;
}

/**
 * SeaweedFS's pods, where they present the renewed storage certificates (STORAGE_CERT_PORTS; the master asks for a
 * client certificate of the fleet CA, which the fleet's HTTP one is). MinIO's renewal reaches it by the next `up`'s
 * rollout (renewedInPlace), so it is not asked.
 */
export function storagePresentingPods(spec: FleetSpec, names: string[]): PresentingPod[] {
  const out: PresentingPod[] = [];
  for (const pod of spec.pods) {
    const weed = pod.containers.find((c) => c.binary === "weed");
    if (!weed) continue;
    for (const name of names) {
      const p = weed.ports.find((x) => x.name === STORAGE_CERT_PORTS[name]);
      if (!p) continue;
      for (let i = 0; i < pod.replicas; i++)
        out.push({
          leaf: name,
          cluster: pod.cluster,
          workload: pod.name,
          index: i,
          port: p.port,
          client: "http",
        });
    }
  }
  return out;
}

function presentingPort(pod: PodSpec): { port: number; client: "grpc" | "http" } | undefined {
  for (const c of pod.containers) {
    const grpc = c.ports.find((p) => p.protocol === "grpc");
    if (grpc && c.files.some((f) => f.name === TLS_FILES.cert)) return { port: grpc.port, client: "grpc" };
  }
  for (const c of pod.containers) {
    const http = c.ports.find((p) => p.name === c.readiness.port);
    if (http && c.files.some((f) => f.name === HTTP_TLS_FILES.cert))
      return { port: http.port, client: "http" };
  }
  return undefined;
}

export interface RotationReport {
  /** Each renewed server's certificate: its name and serial before and after. */
  renewed: { name: string; serialBefore?: string; serialAfter: string }[];
  /** The fleet's client certificates (`grpc-client`, `http-client`), renewed on their own keys. */
  clients: RenewedCert[];
  /** The storage cluster's certificates (`s3-server`, `seaweedfs`), renewed on their own keys. */
  storage: RenewedCert[];
  /** The ConfigMaps and Secrets holding a client or storage certificate, written in place: `<cluster>/<kind>/<name>`. */
  renewedObjects: string[];
  /** Those left to the next `up`, which rolls their workloads (Thanos's HTTP clients, MinIO: renewedInPlace). */
  renewedObjectsDeferred: string[];
  /** The clusters whose Grafana was restarted (rollout) to read the renewed client certificate. */
  grafanaRestarted: string[];
  /** The Secrets written in place, `<cluster>/<name>`. */
  secrets: string[];
  /** Each server pod: whether it presents its new certificate, and when it did (ms after the Secrets were written). */
  pods: { server: string; pod: string; presented: boolean; afterMs?: number; serial?: string }[];
  /** Whether a fleet is up (its Secrets were written) or only the state dir was renewed. */
  running: boolean;
  ms: number;
}

export interface RotateSeams {
  /** Writes one Secret in place in a cluster (server-side apply: the same object, its data replaced). */
  writeSecret: (cluster: string, secret: KubeObject) => Promise<void>;
  /** The serial of the certificate one pod presents now on its port (a TLS handshake), undefined when none answered. */
  presented: (pod: PresentingPod) => Promise<string | undefined>;
  clock: Clock;
  progress: (line: string) => void;
  /** How long to wait for every pod to present its new certificate (the kubelet's sync: ~1-2 min). */
  timeoutMs: number;
  pollMs: number;
}

/**
 * `certs rotate` on Kubernetes: every server's certificate renewed on its own key (already saved in the state dir:
 * `renewals`), each server's Secret written in place, then every server pod asked, by a TLS handshake, until it
 * presents its new certificate. Nothing restarts: the kubelet updates the projected files within its sync period
 * and Thanos's gRPC server and every exporter-toolkit HTTPS server read them at the next handshake.
 */
export async function rotateInCluster(
  fleet: RenderedFleet,
  renewals: Renewal[],
  seams: RotateSeams,
  /** Other certificates to wait for, by name and serial (the storage cluster's, written in place beforehand). */
  alsoWant: Map<string, string> = new Map(),
): Promise<
  Omit<
    RotationReport,
    | "renewed"
    | "clients"
    | "storage"
    | "renewedObjects"
    | "renewedObjectsDeferred"
    | "grafanaRestarted"
    | "running"
    | "ms"
  >
> {
  const secrets: string[] = [];
  for (const r of renewals) {
    const at = parseKubeLeafName(r.name);
    const rc = at && fleet.clusters.find((c) => c.cluster === at.cluster);
    const secret = rc?.secrets.find((s) => s.metadata.name === serverTlsSecretName(at?.workload ?? ""));
    if (!rc || !secret) throw new Error(`${r.name}: no Secret of its own in the rendered fleet`);
    await seams.writeSecret(rc.cluster, secret);
    secrets.push(`${rc.cluster}/${secret.metadata.name}`);
  }
  const want = new Map([
    ...renewals.map((r): [string, string] => [r.name, new X509Certificate(r.after).serialNumber]),
    ...alsoWant,
  ]);
  return { secrets, pods: await awaitPresented(fleet, want, seams) };
}

/**
 * Asks every pod of the servers in `want` (by `kube@<cluster>/<workload>`), by a TLS handshake, until it presents
 * the certificate of that serial, or the timeout; a progress line each round.
 */
export async function awaitPresented(
  fleet: RenderedFleet,
  want: Map<string, string>,
  seams: Omit<RotateSeams, "writeSecret">,
): Promise<RotationReport["pods"]> {
  const pods = [
    ...presentingPods(fleet.spec, [...want.keys()]),
    ...storagePresentingPods(fleet.spec, [...want.keys()]),
  ];
  const started = seams.clock.now();
  const done = new Map<PresentingPod, { afterMs: number; serial: string }>();
  const last = new Map<PresentingPod, string | undefined>();
  const label = (p: PresentingPod) => `${p.cluster}/${podName(p.workload, p.index)}:${p.port}`;
  for (;;) {
    for (const p of pods.filter((x) => !done.has(x))) {
      const serial = await seams.presented(p).catch(() => undefined);
      last.set(p, serial);
      if (serial !== undefined && serial === want.get(p.leaf)) {
        done.set(p, { afterMs: seams.clock.now() - started, serial });
      }
    }
    const waited = seams.clock.now() - started;
    seams.progress(
      `  ${done.size}/${pods.length} server pods present their new certificate after ${Math.round(waited / 1000)} s` +
        (done.size < pods.length
          ? ` (waiting for ${pods
              .filter((x) => !done.has(x))
              .map(label)
              .slice(0, 4)
              .join(
                ", ",
              )}${pods.length - done.size > 4 ? ", …" : ""}: the kubelet updates a Secret's files within its sync period)`
          : ""),
    );
    if (done.size === pods.length || waited >= seams.timeoutMs) break;
    await seams.clock.sleep(seams.pollMs);
  }
  return pods.map((p) => {
    const d = done.get(p);
    const serial = d?.serial ?? last.get(p);
    return {
      server: p.leaf,
      pod: label(p),
      presented: d !== undefined,
      ...(d ? { afterMs: d.afterMs } : {}),
      ...(serial ? { serial } : {}),
    };
  });
}

/**
 * What `certs rotate` asks a server pod with, per port kind: the fleet's gRPC or HTTP client certificate, and the CA
 * the server's certificate is verified against, the trust bundle when a cert-manager Issuer signs the servers'.
 */
export function presentingClientFiles(
  stateDir: string,
  issued: boolean,
): Record<PresentingPod["client"], { ca: string; cert: string; key: string }> {
  const ca = join(stateDir, TLS_DIR, issued ? CA_BUNDLE_FILE : "ca.crt");
  const http = httpClientFiles(stateDir, "");
  return {
    grpc: {
      ca,
      cert: join(stateDir, TLS_DIR, GRPC_CLIENT_FILES.cert),
      key: join(stateDir, TLS_DIR, GRPC_CLIENT_FILES.key),
    },
    http: { ca, cert: http.cert, key: http.key },
  };
}

/**
 * The serial of the certificate a server presents at `url` (a TLS handshake verified against the fleet CA, with the
 * fleet's client certificate): undefined when nothing answered or the handshake failed.
 */
export async function presentedSerial(
  url: URL,
  files: { ca: string; cert: string; key: string },
  /** `h2` for a gRPC port (grpc-go refuses a handshake without it), `http/1.1` for an HTTPS one. */
  alpn: "h2" | "http/1.1",
  timeoutMs = 5_000,
): Promise<string | undefined> {
  const [ca, cert, key] = await Promise.all(
    [files.ca, files.cert, files.key].map((f) => readFile(f, "utf8")),
  );
  return new Promise((resolve) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca,
      cert,
      key,
      ALPNProtocols: [alpn],
      timeout: timeoutMs,
    });
    const done = (serial?: string) => {
      socket.destroy();
      resolve(serial);
    };
    socket.once("secureConnect", () => {
      const peer = socket.getPeerX509Certificate();
      done(socket.authorized && peer ? peer.serialNumber : undefined);
    });
    socket.once("error", () => done());
    socket.once("timeout", () => done());
  });
}

/** The chart's Grafana Deployment: it reads its datasource's `$__file{…}` client certificate only when it provisions. */
export const GRAFANA_DEPLOYMENT = "kube-prometheus-stack-grafana";
/** The annotation `kubectl rollout restart` sets on a pod template. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

/** Every ConfigMap and Secret of the rendered fleet holding one of `certs` (a renewed client or storage certificate). */
export function objectsHolding(
  fleet: RenderedFleet,
  certs: string[],
): { cluster: string; object: KubeObject }[] {
  const out: { cluster: string; object: KubeObject }[] = [];
  for (const rc of fleet.clusters) {
    for (const o of [...rc.secrets, ...rc.manifests]) {
      if (o.kind !== "Secret" && o.kind !== "ConfigMap") continue;
      const data = {
        ...((o as { data?: object }).data ?? {}),
        ...((o as { stringData?: object }).stringData ?? {}),
      };
      if (Object.values(data).some((v) => typeof v === "string" && certs.includes(v)))
        out.push({ cluster: rc.cluster, object: o });
    }
  }
  return out;
}

export interface RenewedCertHandOver {
  /** The objects written in place, `<cluster>/<kind>/<name>`. */
  objects: string[];
  /**
   * The objects left for the next `up` to apply, with the rollout of their workload (their config hash changed): they
   * hold a renewed certificate for a reader that does not re-read it (renewedInPlace: Thanos's HTTP clients, MinIO).
   * Until then those pods keep the previous one, still valid.
   */
  deferred: string[];
  /** The clusters whose Grafana Deployment was restarted (`rollout restart`): it reads its client certificate at start. */
  grafanaRestarted: string[];
}

/**
 * The renewed client and storage certificates handed to what presents them on Kubernetes: every ConfigMap and Secret
 * holding one written in place (server-side apply) where every reader re-reads it (renewedInPlace: Thanos's gRPC
 * clientTLSManager, prometheus/common v0.70.1 per handshake, SeaweedFS every SEAWEEDFS_CERT_REFRESH) once the kubelet
 * updates the files; the chart's Grafana, which reads the files only when it provisions its datasource, restarted
 * (`rollout restart`) in each cluster where its Secret changed.
 */
export async function handOverRenewedCerts(
  fleet: RenderedFleet,
  renewals: Renewal[],
  seams: {
    writeObject: (cluster: string, object: KubeObject) => Promise<void>;
    restartGrafana: (cluster: string) => Promise<void>;
    /** Whether the fleet runs the chart's Grafana (fleet.yaml `grafana`). */
    grafana: boolean;
  },
): Promise<RenewedCertHandOver> {
  const objects: string[] = [];
  const deferred: string[] = [];
  const grafanaRestarted: string[] = [];
  if (renewals.length === 0) return { objects, deferred, grafanaRestarted };
  const after = (name: string) => renewals.find((r) => r.name === name)?.after;
  const renewed = {
    grpcTls: { clientCert: after("grpc-client") ?? "" },
    httpTls: { clientCert: after("http-client") ?? "" },
    s3Tls: { cert: after("s3-server") ?? "", internalCert: after("seaweedfs") ?? "" },
  };
  const certs = renewals.map((r) => r.after);
  const holding = objectsHolding(fleet, certs);
  const written = holding.filter((w) => !feedsReaderAtStart(fleet, w.cluster, w.object, certs, renewed));
  for (const w of holding.filter((x) => !written.includes(x))) {
    deferred.push(`${w.cluster}/${w.object.kind}/${w.object.metadata.name}`);
  }
  for (const { cluster, object } of written) {
    await seams.writeObject(cluster, object);
    objects.push(`${cluster}/${object.kind}/${object.metadata.name}`);
  }
  if (seams.grafana) {
    for (const cluster of new Set(
      written.filter((w) => w.object.metadata.name === HTTP_TLS_SECRET).map((w) => w.cluster),
    )) {
      await seams.restartGrafana(cluster);
      grafanaRestarted.push(cluster);
    }
  }
  return { objects, deferred, grafanaRestarted };
}

/**
 * Whether `object` (one of a workload's config objects) holds one of `certs` for a container of that workload that
 * reads it only at start (not renewedInPlace).
 */
function feedsReaderAtStart(
  fleet: RenderedFleet,
  cluster: string,
  object: KubeObject,
  certs: string[],
  renewed: Parameters<typeof renewedInPlace>[1],
): boolean {
  const workload = object.metadata.labels?.["app.kubernetes.io/name"];
  const pod = fleet.spec.pods.find((p) => p.cluster === cluster && p.name === workload);
  return (
    pod?.containers.some((c) => {
      const inPlace = renewedInPlace(c.binary, renewed);
      return c.files.some((f) => certs.includes(f.content) && !inPlace.includes(f.content));
    }) ?? false
  );
}

/** `kubectl rollout restart deployment/kube-prometheus-stack-grafana`: a new pod template annotation. */
export async function restartGrafana(api: KubeApi, now: number): Promise<void> {
  await api.mergePatch(
    { apiVersion: "apps/v1", kind: "Deployment", name: GRAFANA_DEPLOYMENT, namespace: NAMESPACE },
    { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(now).toISOString() } } } } },
  );
}
