// Recording fakes of the two seams (processes and the Kubernetes API) that answer as docker, kind, helm and the
// API server do, so the runtime's every call can be tested and pinned in golden files without a container engine.

import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { parse } from "yaml";
import { archiveImages } from "../../src/images/archive.ts";
import { normalizeImage } from "../../src/render/images.ts";
import type { KubeObject } from "../../src/render/types.ts";
import {
  describeRef,
  type KubeApi,
  KubeApiError,
  MANAGED_BY_LABEL,
  type ObjectRef,
  type Propagation,
  type ProxyResponse,
  refOf,
} from "../../src/runtimes/kube/api.ts";
import {
  commandLine,
  type Exec,
  ExecError,
  type RunOptions,
  type RunResult,
} from "../../src/runtimes/kube/exec.ts";
import { readTgzEntry } from "../../src/tar.ts";
import { writeImageArchive } from "../tar.ts";

/** One line per call, in call order: what the golden files pin. */
export class Recorder {
  readonly lines: string[] = [];
  /** Replaced in recorded lines, e.g. the temporary state dir by $STATE. */
  readonly substitutions: [string, string][] = [];

  record(line: string): void {
    let out = line;
    for (const [from, to] of this.substitutions) out = out.split(from).join(to);
    this.lines.push(out);
  }

  mark(): number {
    return this.lines.length;
  }

  since(mark: number): string[] {
    return this.lines.slice(mark);
  }
}

type Handler = (cmd: string, args: string[], opts: RunOptions) => RunResult | Promise<RunResult>;

/** An Exec that records each command line and answers through a handler. */
export class FakeExec implements Exec {
  constructor(
    private readonly recorder: Recorder,
    private readonly handler: Handler,
  ) {}

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.recorder.record(`$ ${commandLine(cmd, args)}`);
    await Promise.resolve();
    const result = await this.handler(cmd, args, opts);
    for (const l of result.stdout.split("\n")) if (l) opts.onLine?.(l, "stdout");
    for (const l of result.stderr.split("\n")) if (l) opts.onLine?.(l, "stderr");
    return result;
  }
}

/** Fails like a command that exited with status 1 and printed `stderr`. */
export function exitWith(cmd: string, args: string[], stderr: string, stdout = "", exitCode = 1): never {
  throw new ExecError(commandLine(cmd, args), { stdout, stderr, exitCode });
}

function notFound(cmd: string, args: string[]): never {
  const cause = Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: "ENOENT" });
  throw new ExecError(commandLine(cmd, args), { stdout: "", stderr: "", notFound: true }, cause);
}

const ok = (stdout = "", stderr = ""): RunResult => ({ stdout, stderr });

/** The flags `helm list` takes in Helm v4.2 (pkg/cmd/list.go), plus the global ones used here. */
const HELM4_LIST_FLAGS = [
  "--short",
  "--no-headers",
  "--time-format",
  "--date",
  "--reverse",
  "--uninstalled",
  "--superseded",
  "--uninstalling",
  "--deployed",
  "--failed",
  "--pending",
  "--all-namespaces",
  "--max",
  "--offset",
  "--filter",
  "--selector",
  "--output",
  "--kube-context",
  "--namespace",
];

/** Helm v3.21 (cmd/helm/list.go) also has `--all`; Helm 4 lists every state by default and dropped it. */
const HELM_LIST_FLAGS: Record<3 | 4, string[]> = { 3: [...HELM4_LIST_FLAGS, "--all"], 4: HELM4_LIST_FLAGS };

/** Fails as Helm's flag parser does on a flag its version does not have. */
export function checkHelmFlags(version: string, cmd: string, args: string[]): void {
  const major = version.replace(/^v/, "").startsWith("4.") ? 4 : 3;
  if (args[0] !== "list") return;
  for (const a of args) {
    if (a.startsWith("--") && !HELM_LIST_FLAGS[major].includes(a.split("=")[0] ?? a)) {
      exitWith(cmd, args, `Error: unknown flag: ${a}`);
    }
  }
}

interface Stored {
  obj: KubeObject;
  /** What the last apply sent, to tell a no-op apply from a change. */
  applied: string;
}

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "ClusterRole",
  "ClusterRoleBinding",
  "PersistentVolume",
  "CustomResourceDefinition",
  "ClusterIssuer",
]);

/** A Kubernetes API server in memory: server-side apply with no-op detection, namespaces that must exist first,
 * workloads that report ready, Services that get a ClusterIP (and a load balancer address when one is set). */
export class FakeKubeApi implements KubeApi {
  readonly objects = new Map<string, Stored>();
  nodes: V1Node[] = [];
  private rv = 1000;
  /** Applies that changed something (created or configured). */
  changes = 0;
  /** Address a LoadBalancer Service gets; undefined: pending, as on kind without a load balancer. */
  loadBalancerIngress?: { ip?: string; hostname?: string };
  /** Number of reads before a workload reports ready (0: at once). */
  readyAfterReads = 0;
  /** Jobs that fail instead of completing, by name. */
  failingJobs = new Set<string>();
  /** Answers of the pod/Service proxy, by "resource/namespace/name:port/path". */
  proxyAnswers = new Map<string, ProxyResponse>();
  /** Workloads that never report ready, by name. */
  stuck = new Set<string>();
  /** Container logs, by "pod/container" (and "pod/container/previous" for the run before the last restart). */
  podLogs = new Map<string, string>();
  private reads = new Map<string, number>();

  constructor(
    readonly context: string,
    private readonly recorder: Recorder,
  ) {}

  private key(ref: ObjectRef): string {
    return `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`;
  }

  private record(line: string): void {
    this.recorder.record(`${this.context}: ${line}`);
  }

  private fail(what: string, code: number, message: string): never {
    const cause = Object.assign(new Error(message), { statusCode: code });
    throw new KubeApiError(this.context, what, Object.assign(cause, { message: `HTTP ${code}: ${message}` }));
  }

  async serverSideApply(input: KubeObject): Promise<KubeObject> {
    const ref = refOf(input);
    const what = `apply ${ref.apiVersion} ${describeRef(ref)}`;
    await Promise.resolve();
    if (!CLUSTER_SCOPED.has(ref.kind)) {
      if (!ref.namespace)
        this.fail(what, 400, "the namespace of the object does not match the namespace on the request");
      if (!this.objects.has(this.key({ apiVersion: "v1", kind: "Namespace", name: ref.namespace }))) {
        this.record(`${what} → rejected: namespace missing`);
        this.fail(what, 404, `namespaces "${ref.namespace}" not found`);
      }
    }
    const key = this.key(ref);
    const applied = JSON.stringify(input);
    const before = this.objects.get(key);
    if (before && before.applied === applied) {
      this.record(`${what} → unchanged`);
      return structuredClone(before.obj);
    }
    if (before && ref.kind === "Job" && !isDeepStrictEqual(before.obj.spec, input.spec)) {
      this.record(`${what} → rejected: immutable`);
      this.fail(
        what,
        422,
        `Job.batch "${ref.name}" is invalid: spec.template: Invalid value: field is immutable`,
      );
    }
    const generation = ((before?.obj.metadata.generation as number | undefined) ?? 0) + 1;
    const obj = structuredClone(input);
    obj.metadata = {
      ...obj.metadata,
      uid: (before?.obj.metadata.uid as string | undefined) ?? `uid-${this.rv}`,
      resourceVersion: String(++this.rv),
      generation,
      managedFields: [{ manager: "thanos-fleet", operation: "Apply" }],
    };
    if (ref.kind === "Service") this.serviceDefaults(obj, before?.obj);
    this.objects.set(key, { obj, applied });
    this.changes++;
    this.record(`${what} → ${before ? "configured" : "created"}`);
    return structuredClone(obj);
  }

  private serviceDefaults(obj: KubeObject, before?: KubeObject): void {
    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    const prior = (before?.spec ?? {}) as Record<string, unknown>;
    spec.clusterIP ??= prior.clusterIP ?? `10.96.${(this.rv >> 8) & 255}.${this.rv & 255}`;
    obj.spec = spec;
  }

  private withStatus(stored: KubeObject): KubeObject {
    const obj = structuredClone(stored);
    const key = this.key(refOf(obj));
    const reads = (this.reads.get(key) ?? 0) + 1;
    this.reads.set(key, reads);
    const ready = reads > this.readyAfterReads && !this.stuck.has(obj.metadata.name);
    const spec = (obj.spec ?? {}) as { replicas?: number; type?: string };
    const generation = obj.metadata.generation as number;
    const replicas = spec.replicas ?? 1;
    const n = ready ? replicas : 0;
    if (obj.kind === "Deployment") {
      obj.status = {
        observedGeneration: generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: n,
        availableReplicas: n,
      };
    } else if (obj.kind === "Certificate") {
      // cert-manager's controller: Ready once it has issued (after readyAfterReads reads), at the current generation.
      obj.status = ready
        ? {
            conditions: [{ type: "Ready", status: "True", reason: "Ready", observedGeneration: generation }],
            notAfter: "2027-03-07T00:00:00Z",
            revision: 1,
          }
        : {
            conditions: [
              {
                type: "Ready",
                status: "False",
                reason: "DoesNotExist",
                message: "Issuing certificate as Secret does not exist",
                observedGeneration: generation,
              },
            ],
          };
    } else if (obj.kind === "StatefulSet") {
      obj.status = {
        observedGeneration: generation,
        replicas,
        readyReplicas: n,
        currentReplicas: replicas,
        updatedReplicas: replicas,
        availableReplicas: n,
        currentRevision: `${obj.metadata.name}-5d8f7c9b6`,
        updateRevision: `${obj.metadata.name}-5d8f7c9b6`,
      };
    } else if (obj.kind === "Job") {
      const failed = this.failingJobs.has(obj.metadata.name);
      obj.status = !ready
        ? { active: 1 }
        : failed
          ? { failed: 4, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] }
          : { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] };
    } else if (obj.kind === "Service" && spec.type === "LoadBalancer") {
      obj.status = {
        loadBalancer: ready && this.loadBalancerIngress ? { ingress: [this.loadBalancerIngress] } : {},
      };
    }
    return obj;
  }

  /** Stores an object as a controller of the cluster would make it: not recorded, not counted as a change. */
  put(obj: KubeObject): void {
    const meta = {
      uid: `uid-${++this.rv}`,
      resourceVersion: String(this.rv),
      generation: 1,
      ...obj.metadata,
    };
    this.objects.set(this.key(refOf(obj)), { obj: { ...obj, metadata: meta }, applied: "" });
  }

  async podLog(
    namespace: string,
    pod: string,
    container: string,
    opts: { previous: boolean; tailLines: number },
  ): Promise<string | undefined> {
    this.record(
      `log ${namespace}/${pod} ${container}${opts.previous ? " --previous" : ""} --tail ${opts.tailLines}`,
    );
    await Promise.resolve();
    const log = this.podLogs.get(`${pod}/${container}${opts.previous ? "/previous" : ""}`);
    return log?.split("\n").slice(-opts.tailLines).join("\n");
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    this.record(`get ${ref.apiVersion} ${describeRef(ref)}`);
    await Promise.resolve();
    const stored = this.objects.get(this.key(ref));
    return stored ? this.withStatus(stored.obj) : undefined;
  }

  async list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}) {
    const selector = opts.labelSelector ? ` -l ${opts.labelSelector}` : "";
    this.record(`list ${apiVersion} ${kind}${opts.namespace ? ` -n ${opts.namespace}` : ""}${selector}`);
    await Promise.resolve();
    const wanted = (opts.labelSelector ?? "")
      .split(",")
      .filter(Boolean)
      .map((s) => s.split("=") as [string, string]);
    return [...this.objects.values()]
      .map((s) => s.obj)
      .filter((o) => o.apiVersion === apiVersion && o.kind === kind)
      .filter((o) => !opts.namespace || o.metadata.namespace === opts.namespace)
      .filter((o) => wanted.every(([k, v]) => o.metadata.labels?.[k] === v))
      .map((o) => this.withStatus(o));
  }

  async delete(ref: ObjectRef, opts: { propagation?: Propagation } = {}): Promise<boolean> {
    await Promise.resolve();
    const key = this.key(ref);
    const how = opts.propagation === "Foreground" ? " (foreground)" : "";
    const stored = this.objects.get(key);
    if (stored && this.markDeleting(stored)) {
      this.record(`delete ${ref.apiVersion} ${describeRef(ref)}${how} → being deleted, held by a finalizer`);
      return true;
    }
    const existed = this.objects.delete(key);
    this.record(`delete ${ref.apiVersion} ${describeRef(ref)}${how} → ${existed ? "deleted" : "not found"}`);
    if (existed && stored && ref.kind === "Namespace") {
      // As the namespace controller does: what a finalizer holds stays, and so does the namespace, terminating.
      let held = false;
      for (const [k, s] of this.objects) {
        if (s.obj.metadata.namespace !== ref.name) continue;
        if (this.markDeleting(s)) held = true;
        else this.objects.delete(k);
      }
      if (held) {
        stored.obj.metadata.deletionTimestamp = "2026-12-07T03:00:00Z";
        this.objects.set(key, stored);
      }
    }
    return existed;
  }

  /** An object a finalizer holds is only marked as being deleted: true when that is so. */
  private markDeleting(stored: Stored): boolean {
    if (((stored.obj.metadata.finalizers as string[] | undefined) ?? []).length === 0) return false;
    stored.obj.metadata.deletionTimestamp ??= "2026-12-07T03:00:00Z";
    return true;
  }

  async mergePatch(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject> {
    const what = `patch ${ref.apiVersion} ${describeRef(ref)}`;
    this.record(`${what} ${JSON.stringify(patch)}`);
    await Promise.resolve();
    const stored = this.objects.get(this.key(ref));
    if (!stored) this.fail(what, 404, `${ref.kind.toLowerCase()}s "${ref.name}" not found`);
    const obj = mergePatched(stored.obj, patch) as KubeObject;
    const specChanged = !isDeepStrictEqual(obj.spec, stored.obj.spec);
    obj.metadata = {
      ...obj.metadata,
      resourceVersion: String(++this.rv),
      generation: ((stored.obj.metadata.generation as number | undefined) ?? 0) + (specChanged ? 1 : 0),
    };
    this.objects.set(this.key(ref), { obj, applied: stored.applied });
    return this.withStatus(obj);
  }

  async listNodes(): Promise<V1Node[]> {
    this.record("list v1 Node");
    await Promise.resolve();
    return structuredClone(this.nodes);
  }

  async getService(namespace: string, name: string): Promise<V1Service | undefined> {
    return (await this.get({ apiVersion: "v1", kind: "Service", namespace, name })) as V1Service | undefined;
  }

  async proxy(
    target: { resource: string; namespace: string; name: string; port: number },
    req: { method: string; path: string },
  ): Promise<ProxyResponse> {
    const key = `${target.resource}/${target.namespace}/${target.name}:${target.port}${req.path}`;
    this.record(`proxy ${req.method} ${key}`);
    await Promise.resolve();
    return (
      this.proxyAnswers.get(key) ?? { status: 404, headers: {}, body: Buffer.from("404 page not found\n") }
    );
  }

  /** The fake API server forwards no port: the connection is refused, as to a pod that is gone. */
  async portForward(namespace: string, pod: string, port: number, socket: Duplex): Promise<void> {
    this.record(`port-forward pods/${namespace}/${pod}:${port}`);
    await Promise.resolve();
    socket.destroy();
    throw new Error(`the fake API server forwards no port (pod ${namespace}/${pod}:${port})`);
  }

  /** Applies that changed something since the last call. */
  takeChanges(): number {
    const n = this.changes;
    this.changes = 0;
    return n;
  }
}

/** A Node as the API returns it for a kind node (or any node): InternalIP and Hostname, Ready. */
export function nodeObject(opts: {
  name: string;
  internalIP: string;
  controlPlane?: boolean;
  ready?: boolean;
  externalIP?: string;
  providerID?: string;
}): V1Node {
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": opts.name,
    "kubernetes.io/os": "linux",
  };
  if (opts.controlPlane) labels["node-role.kubernetes.io/control-plane"] = "";
  const addresses = [{ type: "InternalIP", address: opts.internalIP }];
  if (opts.externalIP) addresses.push({ type: "ExternalIP", address: opts.externalIP });
  addresses.push({ type: "Hostname", address: opts.name });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: opts.name,
      labels,
      annotations: {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      },
      uid: `node-${opts.name}`,
      resourceVersion: "512",
    },
    spec: {
      podCIDR: "10.244.0.0/24",
      podCIDRs: ["10.244.0.0/24"],
      providerID:
        opts.providerID ??
        `kind://docker/${opts.name.replace(/-(control-plane|worker\d*)$/, "")}/${opts.name}`,
      ...(opts.controlPlane
        ? { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }
        : {}),
    },
    status: {
      addresses,
      conditions: [
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure" },
        { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID" },
        {
          type: "Ready",
          status: opts.ready === false ? "False" : "True",
          reason: opts.ready === false ? "KubeletNotReady" : "KubeletReady",
        },
      ],
      nodeInfo: {
        architecture: "amd64",
        bootID: "b1",
        containerRuntimeVersion: "containerd://2.1.4",
        kernelVersion: "6.8.0",
        kubeProxyVersion: "",
        kubeletVersion: "v1.36.0",
        machineID: "m1",
        operatingSystem: "linux",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        systemUUID: "s1",
      },
    },
  } as V1Node;
}

interface HelmRelease {
  chart: string;
  values: unknown;
  revision: number;
}

/** docker, kind, kubectl and helm as one simulated machine, each answering as the real tool does. */
export class FakeWorld {
  readonly recorder = new Recorder();
  readonly apis = new Map<string, FakeKubeApi>();
  dockerRunning = true;
  dockerMemBytes = 16 * 1024 ** 3;
  kindNetwork = false;
  versions = {
    kind: "kind v0.32.0 go1.25.5 linux/amd64",
    helm: "v3.19.0+g3d8990f",
    kubectl: "v1.36.0",
  };
  /** Programs missing from PATH. */
  missing = new Set<string>();
  /** Sysctl values as /proc/sys shows them. */
  sysctl: Record<string, string> = {
    "fs/inotify/max_user_watches": "524288",
    "fs/inotify/max_user_instances": "512",
  };
  /** kind clusters by name → node names in creation order. */
  readonly kindClusters = new Map<string, string[]>();
  readonly helmReleases = new Map<string, HelmRelease>();
  helmRepos = new Set<string>();
  private nextIp = 2;
  /** Jobs that fail in every cluster created from now on, by name. */
  failingJobs = new Set<string>();
  /** The log of a Prometheus container that crash-loops in every workload cluster installed from now on. */
  crashingPrometheusLog?: string;
  /** Commands to fail, by a prefix of their command line. */
  failures = new Map<string, string>();
  /** Images in the local Docker (normalized names). */
  dockerImages = new Set<string>();
  /** Images in each kind node's containerd, by node name (normalized names). */
  readonly nodeImages = new Map<string, Set<string>>();

  readonly exec: Exec = new FakeExec(this.recorder, (cmd, args) => this.answer(cmd, args));

  /** The KubeApi for a context, as createKubeApi would give it. */
  api = (context: string): KubeApi => {
    const api = this.apis.get(context);
    if (!api) {
      throw new Error(
        `kube context '${context}' is not in kubeconfig ~/.kube/config (contexts there: ${[...this.apis.keys()].join(", ") || "none"}); ` +
          "fix the context name in fleet.yaml or point KUBECONFIG at the right file",
      );
    }
    return api;
  };

  fakeApi(context: string): FakeKubeApi {
    const api = this.apis.get(context);
    if (!api) throw new Error(`no fake API for ${context}`);
    return api;
  }

  /** An existing cluster reachable by a kube context, with its nodes. */
  addExistingCluster(context: string, nodes: V1Node[]): FakeKubeApi {
    const api = new FakeKubeApi(context, this.recorder);
    api.nodes = nodes;
    this.apis.set(context, api);
    return api;
  }

  private forgotten = new Map<string, FakeKubeApi>();

  /** The kubeconfig loses a context (the cluster itself stays); `kind export kubeconfig` brings a kind one back. */
  forgetContext(context: string): void {
    const api = this.fakeApi(context);
    this.apis.delete(context);
    this.forgotten.set(context, api);
  }

  /** Docker restarts: every kind node gets a new address on the kind network, in another order. */
  restartDocker(): void {
    this.nextIp = 2;
    const names = [...this.kindClusters.keys()].reverse();
    for (const name of names) {
      const api = this.fakeApi(`kind-${name}`);
      api.nodes = api.nodes.map((n) =>
        nodeObject({
          name: n.metadata?.name ?? "",
          internalIP: this.ip(),
          controlPlane: "node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {}),
        }),
      );
    }
  }

  /** Every apply that changed something, over all contexts, since the last call. */
  takeChanges(): number {
    return [...this.apis.values()].reduce((n, api) => n + api.takeChanges(), 0);
  }

  private ip(): string {
    return `172.18.0.${this.nextIp++}`;
  }

  private async answer(cmd: string, args: string[]): Promise<RunResult> {
    if (this.missing.has(cmd)) notFound(cmd, args);
    const line = commandLine(cmd, args);
    for (const [prefix, stderr] of this.failures) if (line.startsWith(prefix)) exitWith(cmd, args, stderr);
    switch (cmd) {
      case "docker":
        return this.docker(cmd, args);
      case "kind":
        return this.kind(cmd, args);
      case "kubectl":
        if (args[0] === "version") {
          const [major, minor] = this.versions.kubectl.replace(/^v/, "").split(".");
          return ok(
            JSON.stringify(
              {
                clientVersion: { major, minor, gitVersion: this.versions.kubectl, platform: "linux/amd64" },
                kustomizeVersion: "v5.7.1",
              },
              null,
              2,
            ),
          );
        }
        break;
      case "helm":
        return this.helm(cmd, args);
    }
    throw new Error(`the fake world does not know '${line}'`);
  }

  private async docker(cmd: string, args: string[]): Promise<RunResult> {
    const daemonDown =
      "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
    if (args[0] === "info") {
      if (!this.dockerRunning) exitWith(cmd, args, daemonDown, '{"ServerVersion":"","MemTotal":0}');
      return ok(
        JSON.stringify({
          ServerVersion: "28.5.1",
          OSType: "linux",
          OperatingSystem: "Ubuntu 24.04.3 LTS",
          NCPU: 8,
          MemTotal: this.dockerMemBytes,
          Name: "builder",
        }),
      );
    }
    if (args[0] === "network" && args[1] === "inspect") {
      if (!this.dockerRunning) exitWith(cmd, args, daemonDown);
      if (!this.kindNetwork)
        exitWith(cmd, args, `Error response from daemon: network ${args[2]} not found`, "[]");
      // Each kind cluster of the fake has a control-plane and a worker on the network.
      if (args.includes("{{len .Containers}}")) return ok(`${this.kindClusters.size * 2}\n`);
      return ok(`${args[2]}\n`);
    }
    if (args[0] === "network" && args[1] === "rm") {
      if (!this.kindNetwork) exitWith(cmd, args, `Error response from daemon: network ${args[2]} not found`);
      this.kindNetwork = false;
      return ok(`${args[2]}\n`);
    }
    if (args[0] === "image" && args[1] === "inspect") {
      const image = args.at(-1) ?? "";
      if (!this.dockerImages.has(normalizeImage(image))) {
        exitWith(cmd, args, `Error response from daemon: No such image: ${image}`);
      }
      return ok("sha256:0123456789abcdef\n");
    }
    if (args[0] === "save") {
      const i = args.indexOf("--output");
      const file = args[i + 1] ?? "";
      const images = args.slice(i + 2);
      const missing = images.find((x) => !this.dockerImages.has(normalizeImage(x)));
      if (missing) exitWith(cmd, args, `Error response from daemon: reference does not exist: ${missing}`);
      await writeImageArchive(file, images);
      return ok();
    }
    if (args[0] === "exec" && args[2] === "crictl" && args[3] === "images") {
      const node = args[1] ?? "";
      if (![...this.kindClusters.values()].some((nodes) => nodes.includes(node))) {
        exitWith(cmd, args, `Error response from daemon: No such container: ${node}`);
      }
      const held = [...(this.nodeImages.get(node) ?? [])];
      return ok(
        JSON.stringify({
          images: held.map((image, n) => ({ id: `sha256:${n}`, repoTags: [image], repoDigests: [] })),
        }),
      );
    }
    throw new Error(`the fake docker does not know '${commandLine(cmd, args)}'`);
  }

  private async kind(cmd: string, args: string[]): Promise<RunResult> {
    const flag = (name: string) => {
      const i = args.indexOf(name);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const sub = args.slice(0, 2).join(" ");
    if (args[0] === "version") return ok(`${this.versions.kind}\n`);
    if (sub === "get clusters") {
      if (this.kindClusters.size === 0) return ok("", "No kind clusters found.\n");
      return ok(`${[...this.kindClusters.keys()].sort().join("\n")}\n`);
    }
    if (sub === "create cluster") {
      const name = flag("--name") ?? "kind";
      if (this.kindClusters.has(name)) {
        exitWith(
          cmd,
          args,
          `ERROR: failed to create cluster: node(s) already exist for a cluster with the name "${name}"`,
        );
      }
      const configFile = flag("--config");
      // Read at once: node addresses are handed out in the order kind processes start, as Docker does.
      const config = configFile
        ? (parse(readFileSync(configFile, "utf8")) as { nodes?: { role: string }[] })
        : {};
      const roles = (config.nodes ?? [{ role: "control-plane" }]).map((n) => n.role);
      let workers = 0;
      const names = roles.map((role) =>
        role === "control-plane"
          ? `${name}-control-plane`
          : `${name}-worker${workers++ === 0 ? "" : workers}`,
      );
      this.kindNetwork = true;
      this.kindClusters.set(name, names);
      const api = new FakeKubeApi(`kind-${name}`, this.recorder);
      api.failingJobs = this.failingJobs;
      api.nodes = names.map((n) =>
        nodeObject({ name: n, internalIP: this.ip(), controlPlane: n.endsWith("control-plane") }),
      );
      this.apis.set(`kind-${name}`, api);
      return ok(
        "",
        [
          `Creating cluster "${name}" ...`,
          " ✓ Ensuring node image (kindest/node:v1.36.0) 🖼",
          " ✓ Preparing nodes 📦",
          " ✓ Writing configuration 📜",
          " ✓ Starting control-plane 🕹️",
          " ✓ Installing CNI 🔌",
          " ✓ Installing StorageClass 💾",
          `Set kubectl context to "kind-${name}"`,
        ].join("\n"),
      );
    }
    if (sub === "get nodes") {
      const nodes = this.kindClusters.get(flag("--name") ?? "kind") ?? [];
      if (nodes.length === 0) return ok("", `No kind nodes found for cluster "${flag("--name")}".\n`);
      return ok(`${nodes.join("\n")}\n`);
    }
    if (sub === "load image-archive") {
      const name = flag("--name") ?? "kind";
      const nodes = this.kindClusters.get(name);
      if (!nodes) exitWith(cmd, args, `ERROR: no nodes found for cluster "${name}"`);
      const images = await archiveImages(args[2] ?? "");
      for (const node of nodes) {
        const held = this.nodeImages.get(node) ?? new Set<string>();
        for (const image of images) held.add(image);
        this.nodeImages.set(node, held);
      }
      return ok();
    }
    if (sub === "export kubeconfig") {
      const name = flag("--name") ?? "kind";
      if (!this.kindClusters.has(name))
        exitWith(cmd, args, `ERROR: could not locate any control plane nodes for cluster named '${name}'`);
      const api = this.forgotten.get(`kind-${name}`);
      if (api) this.apis.set(`kind-${name}`, api);
      this.forgotten.delete(`kind-${name}`);
      return ok("", `Set kubectl context to "kind-${name}"\n`);
    }
    if (sub === "delete cluster") {
      const name = flag("--name") ?? "kind";
      this.kindClusters.delete(name);
      this.apis.delete(`kind-${name}`);
      for (const key of [...this.helmReleases.keys()])
        if (key.startsWith(`kind-${name}|`)) this.helmReleases.delete(key);
      return ok("", `Deleting cluster "${name}" ...\n`);
    }
    throw new Error(`the fake kind does not know '${commandLine(cmd, args)}'`);
  }

  /**
   * What the chart and the Prometheus Operator make on a first install: the Prometheus and Alertmanager resources,
   * a StatefulSet owned by each, and their pods.
   */
  private runOperator(api: FakeKubeApi, namespace: string, release: string, values: unknown): void {
    const prometheusReplicas =
      (values as { prometheus?: { prometheusSpec?: { replicas?: number } } } | null)?.prometheus
        ?.prometheusSpec?.replicas ?? 1;
    for (const [kind, app, replicas] of [
      ["Prometheus", "prometheus", prometheusReplicas],
      ["Alertmanager", "alertmanager", 1],
    ] as const) {
      const name = `${release}-${app}`;
      const uid = `uid-${kind}-${name}`;
      api.put({
        apiVersion: "monitoring.coreos.com/v1",
        kind,
        metadata: { name, namespace, uid, labels: { [MANAGED_BY_LABEL]: "Helm" } },
        spec: { replicas },
      });
      const selector = { "app.kubernetes.io/name": app, "operator.prometheus.io/name": name };
      const labels = { ...selector, [MANAGED_BY_LABEL]: "prometheus-operator" };
      api.put({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: `${app}-${name}`, namespace, labels, ownerReferences: [{ kind, name, uid }] },
        spec: { replicas, selector: { matchLabels: selector } },
      });
      for (let i = 0; i < replicas; i++) api.put(readyPod(`${app}-${name}-${i}`, namespace, labels, app));
      if (app === "prometheus" && this.crashingPrometheusLog !== undefined) {
        const pod = `${app}-${name}-0`;
        api.stuck.add(`${app}-${name}`);
        api.put({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: pod, namespace, labels },
          status: {
            phase: "Running",
            conditions: [{ type: "Ready", status: "False" }],
            containerStatuses: [
              {
                name: app,
                ready: false,
                restartCount: 5,
                state: { waiting: { reason: "CrashLoopBackOff" } },
                lastState: { terminated: { reason: "Error", exitCode: 2 } },
              },
            ],
          },
        });
        api.podLogs.set(`${pod}/${app}/previous`, this.crashingPrometheusLog);
      }
    }
  }

  private async helm(cmd: string, args: string[]): Promise<RunResult> {
    const flag = (name: string) => {
      const i = args.indexOf(name);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const context = flag("--kube-context") ?? "";
    const namespace = flag("-n") ?? flag("--namespace") ?? "default";
    if (args[0] === "version") return ok(`${this.versions.helm}\n`);
    checkHelmFlags(this.versions.helm, cmd, args);
    if (args[0] === "repo" && args[1] === "add") {
      this.helmRepos.add(args[2] ?? "");
      return ok(`"${args[2]}" has been added to your repositories\n`);
    }
    if (args[0] === "repo" && args[1] === "update") {
      return ok(
        `Hang tight while we grab the latest from your chart repositories...\n...Successfully got an update from the "${args[2]}" chart repository\nUpdate Complete. ⎈Happy Helming!⎈\n`,
      );
    }
    if (!this.apis.has(context)) {
      exitWith(cmd, args, `Error: Kubernetes cluster unreachable: context "${context}" does not exist`);
    }
    const key = (name: string) => `${context}|${namespace}|${name}`;
    if (args[0] === "list") {
      const rows = [...this.helmReleases.entries()]
        .filter(([k]) => k.startsWith(`${context}|${namespace}|`))
        .map(([k, r]) => ({
          name: k.split("|")[2],
          namespace,
          revision: String(r.revision),
          updated: "2026-11-24 10:00:00.000000000 +0000 UTC",
          status: "deployed",
          chart: r.chart,
          app_version: "v0.87.0",
        }));
      return ok(`${JSON.stringify(rows)}\n`);
    }
    if (args[0] === "get" && args[1] === "values") {
      const release = this.helmReleases.get(key(args[2] ?? ""));
      if (!release) exitWith(cmd, args, "Error: release: not found");
      return ok(`${JSON.stringify(release.values)}\n`);
    }
    if (args[0] === "upgrade" && args.includes("--install")) {
      const [, name = "", chart = ""] = args.filter((a) => a !== "--install");
      const local = chart.startsWith("/") ? localChart(chart) : undefined;
      if (!local && !this.helmRepos.has(chart.split("/")[0] ?? "")) {
        exitWith(cmd, args, `Error: repo ${chart.split("/")[0]} not found`);
      }
      if (!this.apis.get(context)?.objects.has(`v1|Namespace||${namespace}`)) {
        exitWith(cmd, args, `Error: create: failed to create: namespaces "${namespace}" not found`);
      }
      const file = flag("-f") ?? flag("--values");
      const values = file ? parse(await readFile(file, "utf8")) : null;
      const before = this.helmReleases.get(key(name));
      if (!before) this.runOperator(this.fakeApi(context), namespace, name, values);
      const revision = (before?.revision ?? 0) + 1;
      this.helmReleases.set(key(name), {
        chart: (await local) ?? `${chart.split("/")[1]}-${flag("--version")}`,
        values,
        revision,
      });
      return ok(
        `${before ? `Release "${name}" has been upgraded. Happy Helming!` : `Release "${name}" does not exist. Installing it now.`}\nNAME: ${name}\nNAMESPACE: ${namespace}\nSTATUS: deployed\nREVISION: ${revision}\n`,
      );
    }
    if (args[0] === "uninstall") {
      const name = args[1] ?? "";
      if (!this.helmReleases.delete(key(name))) {
        exitWith(cmd, args, `Error: uninstall: Release not loaded: ${name}: release: not found`);
      }
      // What the chart made goes with it; what the operator made goes with its owners (garbage collection).
      const api = this.apis.get(context);
      for (const [k, { obj }] of api?.objects ?? []) {
        const by = obj.metadata.labels?.[MANAGED_BY_LABEL];
        if (obj.metadata.namespace === namespace && (by === "Helm" || by === "prometheus-operator")) {
          api?.objects.delete(k);
        }
      }
      return ok(`release "${name}" uninstalled\n`);
    }
    throw new Error(`the fake helm does not know '${commandLine(cmd, args)}'`);
  }
}

/** A pod of a StatefulSet, ready, as the kubelet reports it. */
export function readyPod(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  container: string,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True" }],
      containerStatuses: [{ name: container, ready: true, restartCount: 0, state: { running: {} } }],
    },
  };
}

/** `<name>-<version>` of a chart directory or .tgz, from its Chart.yaml, as Helm lists it. */
async function localChart(path: string): Promise<string> {
  const text = statSync(path).isDirectory()
    ? readFileSync(join(path, "Chart.yaml"), "utf8")
    : ((await readTgzEntry(readFileSync(path), (n) => /^[^/]+\/Chart\.yaml$/.test(n)))?.toString("utf8") ??
      "");
  const chart = parse(text) as { name: string; version: string };
  return `${chart.name}-${chart.version}`;
}

/** RFC 7386: objects merge key by key, a null removes the key, anything else replaces. */
export function mergePatched(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? structuredClone(target as Record<string, unknown>)
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatched(out[k], v);
  }
  return out;
}
