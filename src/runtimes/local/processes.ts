// Turns the component specs into concrete local processes: one per container per replica, with its own
// loopback address, directories, files, environment, readiness URL and start stage.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type GrpcTls,
  type HttpTls,
  type ObjectStoreAccess,
  POD_IP,
  type S3Tls,
  type SpecContext,
  shapeAddresses,
} from "../../components/context.ts";
import { buildFleet, type FleetSpec, objectStoreAccess } from "../../components/fleet.ts";
import type { Binary, ComponentKind, Container, PodSpec, Port, ServiceSpec } from "../../components/types.ts";
import { POD_NAME, podNames, START_STAGE } from "../../components/types.ts";
import { renewedInPlace } from "../../components/web.ts";
import type { Credentials } from "../../state/credentials.ts";
import type { Leaf, LeafRequest } from "../../state/server-certs.ts";
import { type HttpClientFiles, httpClientFiles } from "../../state/tls.ts";
import type { Topology } from "../../topology/topology.ts";
import { haproxyConfig } from "./haproxy.ts";
import { type Network, planNetwork } from "./network.ts";

/** The local runtime's own placeholder: the pod's directory, `<state>/local/<cluster>/<pod>`. */
export const POD_DIR = "$(FLEET_POD_DIR)";
/** The fleet's client certificate and key in one PEM, for HAProxy's HTTPS checks. */
const CHECK_PEM = "check-client.pem";

export interface LocalOptions {
  /** TSDB block length of Prometheus and the rulers. */
  blockDuration: string;
  /** How often store gateway, compactor and bucket web re-read the bucket. */
  bucketSyncInterval: string;
  /** Two octets inside 127.0.0.0/8, e.g. 127.77. */
  subnet: string;
}

export type Readiness =
  | { kind: "http"; url: string; tls?: HttpClientFiles }
  /** `tls`: the port speaks HTTPS (its URL is https); a TCP connect needs no certificate. */
  | { kind: "tcp"; addresses: string[]; tls?: HttpClientFiles };

/** Whether the port a readiness check reaches serves HTTPS (its URLs are https). */
export function speaksHttps(r: Readiness): boolean {
  return r.tls !== undefined || (r.kind === "http" && r.url.startsWith("https:"));
}

/** One process to run: a container of one replica, or a cluster's load balancer. */
export interface ProcessPlan {
  /** `cluster/pod/container`, how messages name it. */
  id: string;
  cluster: string;
  workload: string;
  pod: string;
  container: string;
  component: ComponentKind | "load-balancer";
  binary: Binary | "haproxy";
  /** The address it listens on. */
  ip: string;
  args: string[];
  env: Record<string, string>;
  /**
   * `renewable`: a copy of a certificate that `certs rotate` (and `up`, near its expiry) replaces in place, on the
   * same key: not part of the spec digest, so a renewal restarts nothing. `haproxySocket`: a copy HAProxy holds in
   * memory (its health checks' client certificate), handed to it over that stats socket once replaced.
   */
  files: { path: string; content: string; renewable?: boolean; haproxySocket?: string }[];
  dirs: string[];
  cwd: string;
  log: string;
  ports: Port[];
  readiness: Readiness;
  /** Processes of a lower stage are all ready before the next stage starts. */
  stage: number;
}

export interface LocalPlan {
  root: string;
  options: LocalOptions;
  network: Network;
  fleet: FleetSpec;
  objectStore: ObjectStoreAccess;
  /** With the storage cluster's HTTPS: the CA and name its S3 certificate is verified with. */
  objectStoreTls?: { ca: string; serverName: string };
  processes: ProcessPlan[];
  /** Each cluster's HAProxy stats socket, by cluster name. */
  statsSockets: Map<string, string>;
  /** With `tls.http`: the files of the fleet's client certificate, which the runtime's own requests present. */
  httpTls?: HttpClientFiles;
}

/** Start stages: the load balancers first, then the components' own (START_STAGE). */
export const STAGE = { loadBalancer: 0, ...START_STAGE };

export function localRoot(stateDir: string): string {
  return join(stateDir, "local");
}

/** The demo workload: the compiled .js next to this module in dist, the .ts source when run from the repository. */
export function demoScript(): { path: string; nodeArgs: string[] } {
  const js = fileURLToPath(new URL("./demo.js", import.meta.url));
  if (existsSync(js)) return { path: js, nodeArgs: [] };
  const ts = fileURLToPath(new URL("./demo.ts", import.meta.url));
  return { path: ts, nodeArgs: ["--import", import.meta.resolve("tsx")] };
}

export function localContext(
  topology: Topology,
  creds: Credentials,
  options: LocalOptions,
  addresses: SpecContext["addresses"],
  grpcTls?: GrpcTls,
  httpTls?: HttpTls,
  s3Tls?: S3Tls,
): SpecContext {
  return {
    listenHost: POD_IP,
    configDir: (_workload, container) => `${POD_DIR}/config/${container}`,
    dataDir: (_workload, container) => `${POD_DIR}/${container}`,
    addresses,
    objectStore: objectStoreAccess(topology, creds, addresses),
    blockDuration: options.blockDuration,
    bucketSyncInterval: options.bucketSyncInterval,
    demoScript: demoScript().path,
    seaweedfsGrpcBase: seaweedfsGrpcBase(options.subnet),
    ...(grpcTls ? { grpcTls } : {}),
    ...(httpTls ? { httpTls } : {}),
    ...(s3Tls && topology.storage ? { s3Tls } : {}),
  };
}

/**
 * SeaweedFS's first gRPC port for a fleet on `subnet`: weed names a Unix socket in /tmp after each gRPC port, so
 * fleets on different subnets of one machine get different ports (40000-41023).
 */
export function seaweedfsGrpcBase(subnet: string): number {
  return 40000 + 4 * Number(subnet.split(".")[1]);
}

/** Replaces the Kubernetes-style placeholders with one replica's values. */
export function substitute(text: string, vars: Record<string, string>): string {
  let out = text;
  for (const [k, v] of Object.entries(vars)) out = out.replaceAll(k, v);
  return out;
}

export function planLocalFleet(
  topology: Topology,
  creds: Credentials,
  stateDir: string,
  options: LocalOptions,
  /** The fleet's TLS material; required when fleet.yaml says `tls: { grpc: true }`. */
  grpcTls?: GrpcTls,
  /** The fleet's HTTP TLS material; required when fleet.yaml says `tls: { http: true }`. */
  httpTls?: HttpTls,
  /** The storage cluster's TLS material; required when the fleet has one and fleet.yaml says `tls: { s3: true }`. */
  s3Tls?: S3Tls,
  /**
   * Each server's own certificate by process id (serverLeafRequests says which): given, every server presents its
   * own instead of the shared one, and every client verifies the address it dials instead of one pinned name.
   */
  serverLeaves?: Map<string, Leaf>,
): LocalPlan {
  if (topology.fleet.tls.grpc && !grpcTls) {
    throw new Error(
      "fleet.yaml sets tls.grpc but no TLS material was given: load it with loadOrCreateGrpcTls",
    );
  }
  if (topology.fleet.tls.http && !httpTls) {
    throw new Error(
      "fleet.yaml sets tls.http but no HTTP TLS material was given: load it with loadOrCreateFleetTls",
    );
  }
  if (topology.storage && topology.fleet.tls.s3 && !s3Tls) {
    throw new Error("fleet.yaml sets tls.s3 but no TLS material was given: load it with loadS3Tls");
  }
  const shared = { grpc: grpcTls, http: httpTls };
  const grpc = grpcTls && serverLeaves ? { ...grpcTls, serverName: "" } : grpcTls;
  const http = httpTls && serverLeaves ? { ...httpTls, serverName: "" } : httpTls;
  const clientTls = http ? httpClientFiles(stateDir, http.serverName) : undefined;
  const root = localRoot(stateDir);
  // Pass one learns which pods and Services exist; pass two builds them with their real addresses.
  const shape = buildFleet(
    topology,
    localContext(topology, creds, options, shapeAddresses, grpc, http, s3Tls),
    creds,
  );
  const network = planNetwork(topology, shape, options.subnet);
  const ctx = localContext(topology, creds, options, network.addresses, grpc, http, s3Tls);
  const fleet = buildFleet(topology, ctx, creds);
  const demo = demoScript();

  const processes: ProcessPlan[] = [];
  const statsSockets = new Map<string, string>();
  for (const pod of fleet.pods) {
    for (const podName of podNames(pod)) {
      const ip = network.podIp(pod.cluster, podName);
      const podDir = join(root, pod.cluster, podName);
      const vars = { [POD_NAME]: podName, [POD_IP]: ip, [POD_DIR]: podDir };
      for (const c of pod.containers) {
        processes.push(containerProcess(pod, c, { podName, ip, podDir, vars, ctx, demo, clientTls }));
      }
    }
  }
  for (const cluster of network.clusters.values()) {
    const services = fleet.services.filter((s) => s.cluster === cluster.name && !s.headless);
    if (services.length === 0) continue;
    const dir = join(root, cluster.name, "haproxy");
    const socket = join(dir, "haproxy.sock");
    // sun_path holds 108 bytes on Linux, 104 on macOS.
    if (Buffer.byteLength(socket) > 100) {
      throw new Error(
        `the state dir ${stateDir} is too long for HAProxy's stats socket ${socket}: choose a shorter --state-dir`,
      );
    }
    statsSockets.set(cluster.name, socket);
    processes.push({
      id: `${cluster.name}/haproxy/haproxy`,
      cluster: cluster.name,
      workload: "haproxy",
      pod: "haproxy",
      container: "haproxy",
      component: "load-balancer",
      binary: "haproxy",
      ip: cluster.node,
      args: ["-db", "-f", join(dir, "haproxy.cfg")],
      env: {},
      files: [
        {
          path: join(dir, "haproxy.cfg"),
          content: haproxyConfig(
            cluster.name,
            services,
            fleet.pods,
            network,
            socket,
            httpTls && clientTls
              ? { pem: join(dir, CHECK_PEM), ca: clientTls.ca, serverName: clientTls.serverName }
              : undefined,
          ),
        },
        ...(httpTls
          ? [
              {
                path: join(dir, CHECK_PEM),
                content: `${httpTls.clientCert}${httpTls.clientKey}`,
                renewable: true,
                haproxySocket: socket,
              },
            ]
          : []),
      ],
      dirs: [dir],
      cwd: dir,
      log: join(root, cluster.name, "haproxy.log"),
      ports: [],
      readiness: { kind: "tcp", addresses: bindAddresses(services, network) },
      stage: STAGE.loadBalancer,
    });
  }
  if (serverLeaves) {
    for (const p of processes) useOwnLeaf(p, shared, serverLeaves);
  }
  for (const p of processes) {
    // A client or storage certificate is renewed on its own key like a server's: each copy a process re-reads is
    // replaced in place, no restart (renewedInPlace); one it does not stays in its spec.
    const inPlace = renewedInPlace(p.binary, { grpcTls, httpTls, s3Tls: ctx.s3Tls });
    p.files = p.files.map((f) => (inPlace.includes(f.content) ? { ...f, renewable: true } : f));
  }
  return {
    root,
    options,
    network,
    fleet,
    objectStore: ctx.objectStore,
    ...(ctx.s3Tls ? { objectStoreTls: { ca: ctx.s3Tls.ca, serverName: ctx.s3Tls.serverName } } : {}),
    processes,
    statsSockets,
    ...(clientTls ? { httpTls: clientTls } : {}),
  };
}

function containerProcess(
  pod: PodSpec,
  c: Container,
  r: {
    podName: string;
    ip: string;
    podDir: string;
    vars: Record<string, string>;
    ctx: SpecContext;
    demo: { nodeArgs: string[] };
    clientTls?: HttpClientFiles;
  },
): ProcessPlan {
  const sub = (s: string) => substitute(s, r.vars);
  const configDir = sub(r.ctx.configDir(pod.name, c.name));
  const port = c.ports.find((p) => p.name === c.readiness.port);
  if (!port)
    throw new Error(
      `${pod.cluster}/${r.podName}/${c.name}: readiness port ${c.readiness.port} is not one of its ports`,
    );
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    // The pod's directory is its home: nothing lands in the user's own (MinIO writes ~/.minio).
    HOME: r.podDir,
    POD_NAME: r.podName,
    POD_IP: r.ip,
  };
  for (const [k, v] of Object.entries({ ...c.env, ...c.secretEnv })) env[k] = sub(v);
  const args = c.args.map(sub);
  return {
    id: `${pod.cluster}/${r.podName}/${c.name}`,
    cluster: pod.cluster,
    workload: pod.name,
    pod: r.podName,
    container: c.name,
    component: c.component,
    binary: c.binary,
    ip: r.ip,
    args: c.binary === "node" ? [...r.demo.nodeArgs, ...args] : args,
    env,
    files: c.files.map((f) => ({ path: join(configDir, f.name), content: sub(f.content) })),
    dirs: [r.podDir, configDir, ...(c.dataDir ? [sub(c.dataDir)] : [])],
    cwd: r.podDir,
    log: join(r.podDir, `${c.name}.log`),
    ports: c.ports,
    readiness:
      c.readiness.path === undefined
        ? {
            kind: "tcp",
            addresses: [`${r.ip}:${port.port}`],
            ...(c.readiness.tls && r.clientTls ? { tls: r.clientTls } : {}),
          }
        : c.readiness.tls && r.clientTls
          ? { kind: "http", url: `https://${r.ip}:${port.port}${c.readiness.path}`, tls: r.clientTls }
          : {
              kind: "http",
              url: `${c.readiness.https ? "https" : "http"}://${r.ip}:${port.port}${c.readiness.path}`,
            },
    stage: pod.stage,
  };
}

/** The shared server certificates and keys a plan is first built with (the Kubernetes files). */
interface SharedServerTls {
  grpc?: { cert: string; key: string };
  http?: { cert: string; key: string };
}

function sharedCerts(shared: SharedServerTls): { certs: string[]; keys: string[] } {
  const both = [shared.grpc, shared.http].filter((t) => t !== undefined);
  return { certs: both.map((t) => t.cert), keys: both.map((t) => t.key) };
}

/** Whether a process serves with the fleet's server certificate (it has a copy of the shared one). */
function servesTls(p: ProcessPlan, shared: SharedServerTls): boolean {
  const { certs } = sharedCerts(shared);
  return p.files.some((f) => certs.includes(f.content));
}

/** Puts the process's own certificate and key where the shared ones were, marked renewable. */
function useOwnLeaf(p: ProcessPlan, shared: SharedServerTls, leaves: Map<string, Leaf>): void {
  if (!servesTls(p, shared)) return;
  const leaf = leaves.get(p.id);
  if (!leaf)
    throw new Error(`${p.id} serves TLS but was given no certificate of its own (serverLeafRequests)`);
  const { certs, keys } = sharedCerts(shared);
  p.files = p.files.map((f) =>
    certs.includes(f.content)
      ? { ...f, content: leaf.cert, renewable: true }
      : keys.includes(f.content)
        ? { ...f, content: leaf.key }
        : f,
  );
}

/**
 * Every process of a plan that serves TLS, and the addresses its clients dial, each in its certificate: its own
 * loopback address (pods and headless Services are dialled there), the IP of each Service in front of one of its
 * ports, and its cluster's node address when one of those ports has a NodePort (the load balancer passes TLS through
 * untouched). Not `localhost` nor 127.0.0.1: no process listens there, so no client dials them.
 */
export function serverLeafRequests(
  plan: LocalPlan,
  shared: { grpc?: { cert: string; key: string }; http?: { cert: string; key: string } },
): LeafRequest[] {
  const out: LeafRequest[] = [];
  for (const p of plan.processes) {
    if (p.component === "load-balancer" || !servesTls(p, shared)) continue;
    const ips = new Set([p.ip]);
    for (const s of plan.fleet.services) {
      if (s.cluster !== p.cluster || s.headless || s.selector.workload !== p.workload) continue;
      if (s.selector.pod !== undefined && s.selector.pod !== p.pod) continue;
      const mine = s.ports.filter((sp) => p.ports.some((pp) => pp.port === sp.targetPort));
      if (mine.length === 0) continue;
      ips.add(plan.network.serviceIp(s.cluster, s.name));
      if (mine.some((sp) => sp.nodePort !== undefined)) ips.add(plan.network.nodeIp(s.cluster));
    }
    out.push({ name: p.id, sans: [...ips].map((ip) => `IP:${ip}`) });
  }
  return out;
}

/** Every address a cluster's load balancer listens on: each Service port on the Service IP, each NodePort on the node. */
export function bindAddresses(services: ServiceSpec[], network: Network): string[] {
  return services.flatMap((s) =>
    s.ports.flatMap((p) => {
      const out = [`${network.serviceIp(s.cluster, s.name)}:${p.port}`];
      if (p.nodePort !== undefined) out.push(`${network.nodeIp(s.cluster)}:${p.nodePort}`);
      return out;
    }),
  );
}

/** Every address:port the fleet listens on, for the free-port check before `up` and the no-open-port check after `down`. */
export function listenAddresses(plan: LocalPlan): string[] {
  const out = new Set<string>();
  for (const p of plan.processes) {
    if (p.readiness.kind === "tcp") for (const a of p.readiness.addresses) out.add(a);
    for (const port of p.ports) out.add(`${p.ip}:${port.port}`);
  }
  return [...out];
}
