// `render`: the whole fleet as what the Kubernetes runtime applies, per cluster, built only from the component specs.

import { ALERTMANAGER_PORT, ALERTMANAGER_WORKLOAD } from "../components/alertmanager.ts";
import type { GrpcTls, HttpTls, S3Tls, SpecContext } from "../components/context.ts";
import { buildFleet } from "../components/fleet.ts";
import { MINIO_WORKLOAD } from "../components/minio.ts";
import { objstoreConfig } from "../components/objstore.ts";
import { PROMETHEUS_WORKLOAD } from "../components/prometheus.ts";
import { SEAWEEDFS_WORKLOAD } from "../components/seaweedfs.ts";
import { type PodSpec, podTitle, type ServiceSpec } from "../components/types.ts";
import type { Credentials } from "../state/credentials.ts";
import type { Leaf, LeafRequest } from "../state/server-certs.ts";
import { trustBundle } from "../state/user-ca.ts";
import type { ClusterConfig } from "../topology/schema.ts";
import type { Topology } from "../topology/topology.ts";
import {
  type DiscoveredAddresses,
  kubeAddresses,
  kubeContext,
  kubeSpecContext,
  openAddresses,
  placeholder,
  S3_CA_KEY,
  S3_CA_SECRET,
} from "./addresses.ts";
import { certificate, withIssuedCert } from "./certificates.ts";
import {
  ALERTMANAGER_TLS_SECRET,
  type ChartServerTls,
  chartServerTlsSecret,
  clientCaSecret,
  GRAFANA_SECRET,
  httpTlsSecret,
  kubePrometheusStackValues,
  PROMETHEUS_TLS_SECRET,
  receiveWriterSecrets,
} from "./helm.ts";
import { mirrorImage } from "./images.ts";
import { hostPorts, kindConfig } from "./kind.ts";
import { setupObjects } from "./minio.ts";
import { DEFAULT_OUT, planSteps } from "./runbook.ts";
import { seaweedfsSetupObjects, seaweedfsSetupSecret } from "./seaweedfs.ts";
import {
  kubeServerLeafRequests,
  ownLeaf,
  type SharedServerPems,
  serverSans,
  serverTlsSecretName,
  servesTls,
  withOwnLeaf,
} from "./server-certs.ts";
import type { ChartPod, KubeObject, RenderedCluster, RenderedFleet } from "./types.ts";
import { namespace, OBJSTORE_SECRET, realisePod, realiseService, secret } from "./workloads.ts";

export interface RenderOptions {
  credentials: Credentials;
  /** Node (or load balancer) addresses found by `up`; without them, addresses are `${NODE_IP_<CLUSTER>}` placeholders. */
  discovered?: DiscoveredAddresses;
  /** The directory PLAN.md's commands refer to (as given to `render --out`). */
  outDir?: string;
  /** The fleet's gRPC TLS material (`loadOrCreateGrpcTls`); required when fleet.yaml sets `tls.grpc`. */
  grpcTls?: GrpcTls;
  /** The storage cluster's TLS material (`loadS3Tls`); required with a storage cluster and `tls.s3`. */
  s3Tls?: S3Tls;
  /** The fleet's HTTP TLS material (`loadFleetTls`); required when fleet.yaml sets `tls.http` (the default). */
  httpTls?: HttpTls;
  /**
   * Each server workload's own certificate, by `kubeLeafName` (for the SANs `kubeLeafRequests` gives): every server
   * presents its own from a Secret of its own, and every client verifies the name or address it dials instead of one
   * pinned name. Without it, the shared certificates stand in (a render for the fleet's shape only).
   */
  serverLeaves?: Map<string, Leaf>;
  /**
   * The PEM certificate of the CA fleet.yaml's cert-manager Issuer signs with (`loadIssuerCa`); required with
   * `tls.issuer`. Every client trusts it beside the fleet CA (one bundle in each `ca.crt`).
   */
  issuerCa?: string;
}

/** The shared server certificates and keys the spec is built with (what each server's own replaces). */
function sharedPems(opts: RenderOptions): SharedServerPems {
  const both = [opts.grpcTls, opts.httpTls].filter((t) => t !== undefined);
  return { certs: both.map((t) => t.cert), keys: both.map((t) => t.key) };
}

/** The SpecContext of a render: with its own certificates, clients verify what they dial (no pinned server name). */
function renderContext(topology: Topology, opts: RenderOptions): SpecContext {
  const addresses = kubeAddresses(topology, opts.discovered);
  // With a cert-manager Issuer every server has its own certificate too, and clients trust its CA beside the fleet's.
  const issued = topology.fleet.tls.issuer !== undefined;
  const unpin = <T extends { serverName: string; ca: string }>(t: T): T =>
    opts.serverLeaves || issued
      ? { ...t, serverName: "", ca: trustBundle(t.ca, issued ? opts.issuerCa : undefined) }
      : t;
  return {
    ...kubeSpecContext(topology, addresses, opts.credentials),
    ...(opts.grpcTls ? { grpcTls: unpin(opts.grpcTls) } : {}),
    ...(opts.httpTls && topology.fleet.tls.http ? { httpTls: unpin(opts.httpTls) } : {}),
    ...(opts.s3Tls && topology.storage ? { s3Tls: opts.s3Tls } : {}),
  };
}

/** Every server workload that serves TLS, and the SANs its own certificate needs, for these options' addresses. */
export function kubeLeafRequests(topology: Topology, opts: RenderOptions): LeafRequest[] {
  const spec = buildFleet(topology, renderContext(topology, opts), opts.credentials);
  return kubeServerLeafRequests(topology, spec, sharedPems(opts), opts.discovered);
}

export function renderFleet(topology: Topology, opts: RenderOptions): RenderedFleet {
  const addresses = kubeAddresses(topology, opts.discovered);
  if (topology.fleet.tls.grpc && !opts.grpcTls) {
    throw new Error(
      "fleet.yaml sets tls.grpc but render was given no TLS material: load it with loadOrCreateGrpcTls",
    );
  }
  if (topology.fleet.tls.http && !opts.httpTls) {
    throw new Error(
      "fleet.yaml sets tls.http but render was given no HTTP TLS material: load it with loadFleetTls",
    );
  }
  if (topology.storage && topology.fleet.tls.s3 && !opts.s3Tls) {
    throw new Error("fleet.yaml sets tls.s3 but render was given no TLS material: load it with loadS3Tls");
  }
  const issuer = topology.fleet.tls.issuer;
  if (issuer && !opts.issuerCa) {
    throw new Error(
      "fleet.yaml sets tls.issuer but render was given no issuer CA: load it with loadIssuerCa",
    );
  }
  const ctx = renderContext(topology, opts);
  const shared = sharedPems(opts);
  const spec = buildFleet(topology, ctx, opts.credentials);
  const objstore = objstoreConfig(
    ctx.objectStore,
    ctx.s3Tls && ctx.objstoreCaFile
      ? { caFile: ctx.objstoreCaFile, serverName: ctx.s3Tls.serverName }
      : undefined,
  );
  /**
   * The fleet CA that objstore.yml names, in a cluster running Thanos: a Secret, applied before the chart and the
   * pods that mount it (the CA is no secret, but it goes with objstore.yml).
   */
  const s3Ca = (): KubeObject[] => (ctx.s3Tls ? [secret(S3_CA_SECRET, { [S3_CA_KEY]: ctx.s3Tls.ca })] : []);
  // A registry mirror renames every image the fleet runs, the chart's included (helm.ts).
  const mirror = topology.fleet.images.registry;
  const pods = new Set(
    spec.pods.map((p) => ({
      ...p,
      containers: p.containers.map((c) => ({ ...c, image: mirrorImage(mirror, c.image) })),
    })),
  );
  const services = new Set(spec.services);
  const take = <T extends PodSpec | ServiceSpec>(
    set: Set<T>,
    cluster: string,
    pick: (x: T) => boolean = () => true,
  ): T[] => {
    const out = [...set].filter((x) => x.cluster === cluster && pick(x));
    for (const x of out) set.delete(x);
    return out;
  };
  const serviceTypeOf = (c: ClusterConfig) => c.serviceType;

  const clusters = topology.fleet.clusters.map((c): RenderedCluster => {
    const secrets: KubeObject[] = [];
    const manifests: KubeObject[] = [namespace()];
    const configs: KubeObject[] = [];
    const workloads: KubeObject[] = [];
    const serviceObjects: KubeObject[] = [];
    let helmValues: Record<string, unknown> | undefined;
    let chartPods: ChartPod[] | undefined;
    const certificates: KubeObject[] = [];
    /** With a cert-manager Issuer: the server workload's Certificate, for the SANs its own leaf would have. */
    const certify = (pod: PodSpec, secretName: string) => {
      if (issuer && servesTls(pod, shared)) {
        const sans = serverSans(topology, spec, pod, opts.discovered);
        certificates.push(certificate(pod.name, secretName, sans, issuer));
      }
    };
    const addPods = (list: PodSpec[]) => {
      for (const pod of list) {
        certify(pod, serverTlsSecretName(pod.name));
        const r = issuer
          ? realisePod(withIssuedCert(pod, shared), ctx, objstore, true)
          : realisePod(withOwnLeaf(pod, shared, opts.serverLeaves), ctx, objstore);
        configs.push(...r.configMaps);
        secrets.push(...r.secrets);
        workloads.push(r.workload);
      }
    };

    if (c.role === "observer") {
      secrets.push(secret(OBJSTORE_SECRET, { "objstore.yml": objstore }));
      secrets.push(...s3Ca());
      addPods(take(pods, c.name));
      for (const s of take(services, c.name)) serviceObjects.push(...realiseService(s, serviceTypeOf(c)));
    } else if (c.role === "workload") {
      const w = topology.workloads.find((x) => x.name === c.name);
      if (!w) throw new Error(`workload cluster ${c.name} is missing from the topology`);
      // The chart runs this cluster's Prometheus replicas (with their sidecars, or writing to receive) and its Alertmanager.
      const [prometheus] = take(pods, c.name, (p) => p.name === PROMETHEUS_WORKLOAD);
      const [alertmanager] = take(pods, c.name, (p) => p.name === ALERTMANAGER_WORKLOAD);
      if (!prometheus || !alertmanager)
        throw new Error(`workload cluster ${c.name} has no Prometheus or Alertmanager spec`);
      // A receive-mode cluster's Prometheus writes to the observer: it gets its remote write's TLS files and no
      // bucket credential; a sidecar-mode one gets what its sidecar uploads and serves with.
      const receiveMode = w.mode === "receive";
      if (receiveMode) secrets.push(...receiveWriterSecrets(topology, w, ctx));
      else secrets.push(secret(OBJSTORE_SECRET, { "objstore.yml": objstore }), ...s3Ca());
      if (topology.fleet.grafana) {
        secrets.push(
          secret(GRAFANA_SECRET, {
            "admin-user": opts.credentials.grafana.user,
            "admin-password": opts.credentials.grafana.password,
          }),
        );
      }
      // The chart's servers' own certificates, each in a Secret of its own (the shared one stands in without them).
      const chartLeaf = (pod: PodSpec): ChartServerTls => {
        const leaf = opts.serverLeaves
          ? ownLeaf(pod, opts.serverLeaves)
          : { cert: shared.certs[0] ?? "", key: shared.keys[0] ?? "" };
        return { ca: (ctx.grpcTls ?? ctx.httpTls)?.ca ?? "", ...leaf };
      };
      // With a cert-manager Issuer, it writes them (its ca.crt is the issuer's CA: the gRPC server's client CA, the
      // fleet's, comes from a Secret of ours).
      if (!receiveMode && (ctx.grpcTls || ctx.httpTls)) {
        if (!issuer) secrets.push(chartServerTlsSecret(PROMETHEUS_TLS_SECRET, chartLeaf(prometheus)));
        else {
          certify(prometheus, PROMETHEUS_TLS_SECRET);
          if (ctx.grpcTls) secrets.push(clientCaSecret(ctx.grpcTls.ca));
        }
      }
      if (ctx.httpTls) {
        secrets.push(httpTlsSecret(ctx));
        if (!issuer) secrets.push(chartServerTlsSecret(ALERTMANAGER_TLS_SECRET, chartLeaf(alertmanager)));
        else certify(alertmanager, ALERTMANAGER_TLS_SECRET);
      }
      helmValues = kubePrometheusStackValues(topology, w, ctx, { prometheus, alertmanager });
      chartPods = [prometheus, alertmanager].map((p) => ({
        name: p.name,
        title: podTitle(p),
        replicas: p.replicas,
        memoryRequests: p.containers.map((x) => x.resources.requests.memory),
      }));
      // One Service per replica (the chart's thanosService selects every replica): query must see each one.
      for (const s of take(services, c.name, (s) => s.selector.pod !== undefined)) {
        serviceObjects.push(...realiseService(s, serviceTypeOf(c)));
      }
      const [chartAlertmanager] = take(
        services,
        c.name,
        (s) => s.chart !== undefined && s.name === ALERTMANAGER_WORKLOAD,
      );
      if (chartAlertmanager?.ports[0]?.port !== ALERTMANAGER_PORT) {
        throw new Error(
          `workload cluster ${c.name}: expected the chart's Alertmanager Service on ${ALERTMANAGER_PORT}`,
        );
      }
    } else if (c.server === "seaweedfs") {
      const [seaweedfs] = take(pods, c.name, (p) => p.name === SEAWEEDFS_WORKLOAD);
      if (!seaweedfs) throw new Error(`storage cluster ${c.name} has no SeaweedFS spec`);
      addPods([seaweedfs]);
      for (const s of take(services, c.name)) serviceObjects.push(...realiseService(s, serviceTypeOf(c)));
      workloads.push(...seaweedfsSetupObjects(seaweedfs, addresses, topology.fleet.bucket, ctx.s3Tls));
      if (ctx.s3Tls) secrets.push(seaweedfsSetupSecret(ctx.s3Tls));
    } else {
      const [minio] = take(pods, c.name, (p) => p.name === MINIO_WORKLOAD);
      if (!minio) throw new Error(`storage cluster ${c.name} has no MinIO spec`);
      addPods([minio]);
      for (const s of take(services, c.name)) serviceObjects.push(...realiseService(s, serviceTypeOf(c)));
      const setup = setupObjects(
        minio,
        addresses,
        topology.fleet.bucket,
        opts.credentials,
        ctx.s3Tls !== undefined,
      );
      secrets.push(...s3Ca());
      secrets.push(...setup.secrets);
      workloads.push(...setup.manifests);
    }

    const kind = c.context ? undefined : kindConfig(topology, c.name);
    return {
      cluster: c.name,
      role: c.role,
      context: kubeContext(topology, c.name),
      ...(kind ? { kindConfig: kind } : {}),
      ...(helmValues ? { helmValues } : {}),
      ...(chartPods ? { chartPods } : {}),
      secrets,
      ...(certificates.length > 0 ? { certificates } : {}),
      manifests: [...manifests, ...configs, ...serviceObjects, ...workloads],
      hostPorts: hostPorts(topology, c.name),
    };
  });

  const left = [
    ...[...pods].map((p) => `pod ${p.cluster}/${p.name}`),
    ...[...services].map((s) => `service ${s.cluster}/${s.name}`),
  ];
  if (left.length > 0) throw new Error(`render does not know how to realise: ${left.join(", ")}`);

  // Only the variables some rendered object really uses: PLAN.md asks for nothing more.
  const text = JSON.stringify(clusters);
  const open = openAddresses(topology, opts.discovered, (cluster) =>
    spec.services
      .filter((s) => s.cluster === cluster)
      .flatMap((s) =>
        s.ports.flatMap((p) =>
          p.nodePort === undefined ? [] : [{ nodePort: p.nodePort, service: s.name, port: p.port }],
        ),
      ),
  ).filter((o) => text.includes(placeholder(o.variable)));
  return {
    clusters,
    plan: planSteps(topology, clusters, {
      outDir: opts.outDir ?? DEFAULT_OUT,
      open,
      discovered: opts.discovered,
    }),
    openAddresses: open,
    spec,
  };
}
