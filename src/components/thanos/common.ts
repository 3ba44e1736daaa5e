// What every Thanos component shares: its ports, the container template, objstore and gRPC TLS files, its Service.
import type { Topology } from "../../topology/topology.ts";
import type { SpecContext } from "../context.ts";
import { OBJSTORE_FILE, objstoreConfig, S3_CA_FILE } from "../objstore.ts";
import { goMemLimit, memoryLimitMiB, resourcesFor, type Sizing } from "../resources.ts";
import type {
  ComponentKind,
  ComponentSpec,
  Container,
  Opening,
  PodSpec,
  Port,
  ServicePort,
  ServiceSpec,
} from "../types.ts";
import { uniqueFiles, type WebSections, webServer } from "../web.ts";

export const GRPC_PORT = 10901;
export const HTTP_PORT = 10902;
export const TLS_FILES = {
  ca: "grpc-ca.crt",
  cert: "grpc-tls.crt",
  key: "grpc-tls.key",
} as const;

/** Workload names of mgmt's processes. */
export const WORKLOAD = {
  query: "thanos-query",
  queryFrontend: "thanos-query-frontend",
  store: "thanos-store",
  compact: "thanos-compact",
  rule: "thanos-ruler",
  bucketWeb: "thanos-bucket-web",
  alertmanager: "alertmanager",
} as const;

export const GRPC_AND_HTTP: Port[] = [
  { name: "grpc", port: GRPC_PORT, protocol: "grpc" },
  { name: "http", port: HTTP_PORT, protocol: "http" },
];
export const HTTP_ONLY: Port[] = [{ name: "http", port: HTTP_PORT, protocol: "http" }];

/** The fleet's Thanos image, e.g. `quay.io/thanos/thanos:v0.42.4`. */
export function thanosImage(topology: Topology): string {
  return `quay.io/thanos/thanos:${topology.fleet.versions.thanos}`;
}

export function thanosContainer(
  topology: Topology,
  name: string,
  component: Container["component"],
  sizing: Sizing,
  args: string[],
  rest: Partial<Container> = {},
): Container {
  return {
    name,
    component,
    binary: "thanos",
    image: thanosImage(topology),
    args: [...args, "--log.level=info", "--log.format=logfmt"],
    files: [],
    ports: GRPC_AND_HTTP,
    readiness: { port: "http", path: "/-/ready" },
    liveness: { port: "http", path: "/-/healthy" },
    resources: resourcesFor(sizing, topology.fleet.profile),
    ...rest,
  };
}

export function listen(ctx: SpecContext, port: number): string {
  return `${ctx.listenHost}:${port}`;
}

/** Where a process with a gRPC server listens: gRPC, then HTTP. */
export function listenArgs(ctx: SpecContext): string[] {
  return [`--grpc-address=${listen(ctx, GRPC_PORT)}`, `--http-address=${listen(ctx, HTTP_PORT)}`];
}

/** What a mgmt component is, whatever the fleet: each module states its own at its top. */
export interface MgmtFacts {
  /** Workload name. */
  name: string;
  container: string;
  component: ComponentKind;
  sizing: Sizing;
  /** One replica unless fleet.yaml says otherwise. */
  replicas?: (topology: Topology) => number;
  /** Keeps data or needs stable replica names (a StatefulSet). */
  stateful: boolean;
  /** PodSpec.minReadySeconds. */
  minReadySeconds?: number;
  stage: number;
  /** A headless Service: query dials each replica by its own address. */
  headless?: boolean;
}

/** The ports of a mgmt component's Service, exposed on a NodePort only where one is given. */
export interface MgmtPorts {
  grpc?: { nodePort?: number };
  http: { nodePort?: number };
}

/** A mgmt component: one workload of one Thanos container, and its Service. */
export function mgmtComponent(
  topology: Topology,
  ctx: SpecContext,
  facts: MgmtFacts,
  spec: {
    args: string[];
    /** What differs from thanosContainer's defaults: files, data dir, ports. */
    container: Partial<Container>;
    ports: MgmtPorts;
    storeLabels?: PodSpec["storeLabels"];
    /** Sections of its web config besides TLS (merged by webConfig). */
    web?: WebSections;
  },
): ComponentSpec {
  const { container, ports, storeLabels } = spec;
  // An HTTP port on a NodePort leaves the cluster: HTTPS with the fleet's client certificates (with `tls.http`).
  const exposed = ports.http.nodePort !== undefined;
  const web = exposed
    ? webServer(ctx, ctx.configDir(facts.name, facts.container), "--http.config", spec.web)
    : { args: [], files: [] };
  const args = [...spec.args, ...web.args];
  const probeTls = exposed && ctx.httpTls ? { tls: true } : {};
  // Each mgmt process keeps its heap under its memory limit (goMemLimit), on both runtimes. Not the sidecars: the
  // Prometheus Operator builds their containers on Kubernetes, from chart values that carry no environment.
  const env = {
    GOMEMLIMIT: goMemLimit(memoryLimitMiB(facts.sizing, topology.fleet.profile)),
    ...container.env,
  };
  const pod: PodSpec = {
    cluster: topology.observer.name,
    name: facts.name,
    replicas: facts.replicas?.(topology) ?? 1,
    stateful: facts.stateful,
    ...(facts.minReadySeconds ? { minReadySeconds: facts.minReadySeconds } : {}),
    stage: facts.stage,
    containers: [
      thanosContainer(topology, facts.container, facts.component, facts.sizing, args, {
        ...container,
        // A server that is also a client of the fleet's HTTPS ports (query-frontend) needs the CA once: Kubernetes
        // refuses a projected volume with one path twice.
        files: uniqueFiles([...(container.files ?? []), ...web.files]),
        readiness: { ...(container.readiness ?? { port: "http", path: "/-/ready" }), ...probeTls },
        liveness: { ...(container.liveness ?? { port: "http", path: "/-/healthy" }), ...probeTls },
        env,
      }),
    ],
    ...(storeLabels ? { storeLabels } : {}),
  };
  return { pods: [pod], services: [mgmtService(topology, facts.name, ports, facts.headless)] };
}

/** A mgmt UI a person opens, on both runtimes. */
export function mgmtOpening(topology: Topology, name: string, title: string, nodePort: number): Opening {
  return {
    cluster: topology.observer.name,
    name,
    title,
    nodePort,
    runtimes: ["kubernetes", "local"],
    ui: true,
  };
}

/** objstore.yml, and with the storage cluster's HTTPS the fleet CA it verifies the S3 certificate with. */
export function objstore(ctx: SpecContext, workload: string, container: string) {
  const dir = ctx.configDir(workload, container);
  const tls = ctx.s3Tls;
  const caFile = ctx.objstoreCaFile ?? `${dir}/${S3_CA_FILE}`;
  const config = objstoreConfig(ctx.objectStore, tls ? { caFile, serverName: tls.serverName } : undefined);
  const file = { name: OBJSTORE_FILE, content: config, secret: true };
  const ca = tls && !ctx.objstoreCaFile ? [{ name: S3_CA_FILE, content: tls.ca }] : [];
  return { arg: `--objstore.config-file=${dir}/${OBJSTORE_FILE}`, files: [file, ...ca] };
}

/**
 * With `tls.grpc`, a StoreAPI server presents the fleet's server certificate and accepts only clients with a
 * certificate from the fleet CA; without it, nothing changes.
 */
export function grpcServerTls(ctx: SpecContext, workload: string, container: string) {
  const tls = ctx.grpcTls;
  if (!tls) return { args: [], files: [] };
  const dir = ctx.configDir(workload, container);
  return {
    args: [
      `--grpc-server-tls-cert=${dir}/${TLS_FILES.cert}`,
      `--grpc-server-tls-key=${dir}/${TLS_FILES.key}`,
      `--grpc-server-tls-client-ca=${dir}/${TLS_FILES.ca}`,
    ],
    files: [
      { name: TLS_FILES.ca, content: tls.ca },
      { name: TLS_FILES.cert, content: tls.cert },
      { name: TLS_FILES.key, content: tls.key, secret: true },
    ],
  };
}

/** The Service of a mgmt component: its gRPC port if it has one, its HTTP port, each on a NodePort only if given. */
function mgmtService(topology: Topology, name: string, ports: MgmtPorts, headless = false): ServiceSpec {
  const port = (portName: string, p: number, nodePort?: number): ServicePort =>
    nodePort === undefined
      ? { name: portName, port: p, targetPort: p }
      : { name: portName, port: p, targetPort: p, nodePort };
  return {
    cluster: topology.observer.name,
    name,
    selector: { workload: name },
    ports: [
      ...(ports.grpc ? [port("grpc", GRPC_PORT, ports.grpc.nodePort)] : []),
      port("http", HTTP_PORT, ports.http.nodePort),
    ],
    ...(headless ? { headless } : {}),
  };
}
