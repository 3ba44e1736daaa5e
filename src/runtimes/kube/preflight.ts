// Checks, before anything is created, that this machine can run the fleet: each failure says how to fix it.

import { NAMESPACE } from "../../components/context.ts";
import { GRAFANA_SIZING } from "../../components/grafana.ts";
import { resourcesFor, type Sizing } from "../../components/resources.ts";
import { RELEASE } from "../../render/helm.ts";
import type { KubeObject, RenderedCluster } from "../../render/types.ts";
import { fieldPath } from "../../topology/errors.ts";
import { fleetNodePorts } from "../../topology/semantics.ts";
import type { Topology } from "../../topology/topology.ts";
import { imageArchiveFindings, localChartFindings } from "./airgap.ts";
import { FIELD_MANAGER, type KubeApi, MANAGED_BY_LABEL } from "./api.ts";
import { type Exec, ExecError } from "./exec.ts";
import { rememberHelmVersion } from "./helm.ts";

export interface PreflightProblem {
  check: string;
  message: string;
  fix: string;
}

/** Preflight found problems: nothing was created. */
export class PreflightError extends Error {
  constructor(readonly problems: PreflightProblem[]) {
    super(
      `preflight found ${problems.length === 1 ? "a problem" : `${problems.length} problems`}; nothing was created:\n${problems
        .map((p) => `  - ${p.message}\n    fix: ${p.fix}`)
        .join("\n")}`,
    );
    this.name = "PreflightError";
  }
}

export interface PreflightDeps {
  exec: Exec;
  api: (context: string) => KubeApi;
  platform: NodeJS.Platform;
  /** Reads a file of /proc/sys, e.g. "fs/inotify/max_user_watches"; undefined when it cannot be read. */
  readSysctl: (name: string) => Promise<string | undefined>;
  /** How long an existing cluster may take to answer. */
  contextTimeoutMs?: number;
  /** An image archive `up` loads into the kind nodes: checked to hold every image they run. */
  imagesArchive?: string;
}

export interface PreflightResult {
  warnings: string[];
  /** What the checks found, for --verbose. */
  facts: string[];
}

/** kind v0.32.0 is the release whose node image the fleet pins; older releases may not boot it. */
export const MIN_KIND = [0, 32, 0] as const;
/** kube-prometheus-stack 88 needs a current Helm; Helm 3 (from 3.12) and Helm 4 both work. */
export const MIN_HELM3 = [3, 12, 0] as const;
/** kind's "too many open files" fix, from its known-issues page, for eight nodes. */
export const INOTIFY = {
  "fs/inotify/max_user_watches": 524288,
  "fs/inotify/max_user_instances": 512,
} as const;

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** Memory a kind node takes before any workload: control plane components, or kubelet and kube-proxy. */
export const NODE_OVERHEAD = { "control-plane": 600 * MiB, worker: 200 * MiB } as const;
/** kube-prometheus-stack's pods beyond Prometheus, Grafana and Alertmanager: operator, kube-state-metrics, node-exporter. */
export const CHART_EXTRAS = 384 * MiB;

export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) {
    if ((v[i] ?? 0) !== (min[i] ?? 0)) return (v[i] ?? 0) > (min[i] ?? 0);
  }
  return true;
}

/** A Kubernetes quantity ("512Mi", "1Gi", "500M", "1e9") in bytes. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9.]+(?:e[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$/.exec(q.trim());
  if (!m) throw new Error(`'${q}' is not a Kubernetes quantity`);
  const n = Number(m[1]);
  const unit = m[2] ?? "";
  const factor: Record<string, number> = {
    "": 1,
    m: 0.001,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: MiB,
    Gi: GiB,
    Ti: 1024 * GiB,
  };
  return n * (factor[unit] ?? 1);
}

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

/** Memory requests of the pods in rendered manifests (Deployments, StatefulSets), replicas included. */
function manifestMemory(objects: KubeObject[]): number {
  let total = 0;
  for (const o of objects) {
    if (o.kind !== "Deployment" && o.kind !== "StatefulSet") continue;
    const spec = o.spec as {
      replicas?: number;
      template?: { spec?: { containers?: { resources?: { requests?: { memory?: string } } }[] } };
    };
    const perPod = (spec.template?.spec?.containers ?? []).reduce(
      (sum, c) => sum + (c.resources?.requests?.memory ? parseQuantity(c.resources.requests.memory) : 0),
      0,
    );
    total += perPod * (spec.replicas ?? 1);
  }
  return total;
}

/** What the fleet's kind clusters need, by the profile's requests plus each node's own overhead. */
export function memoryNeeded(topology: Topology, clusters: RenderedCluster[]): number {
  const profile = topology.fleet.profile;
  const mem = (sizing: Sizing) => parseQuantity(resourcesFor(sizing, profile).requests.memory);
  let total = 0;
  for (const c of clusters) {
    if (!c.kindConfig) continue;
    const nodes = (
      (c.kindConfig.nodes as { role?: string }[] | undefined) ?? [{ role: "control-plane" }]
    ).map((n) => n.role ?? "control-plane");
    total += nodes.reduce(
      (sum, role) => sum + (role === "worker" ? NODE_OVERHEAD.worker : NODE_OVERHEAD["control-plane"]),
      0,
    );
    total += manifestMemory(c.manifests);
    if (c.chartPods) {
      // The chart's pods: not among the manifests; Prometheus with or without its sidecar, as the spec gives it.
      for (const p of c.chartPods) {
        total += p.replicas * p.memoryRequests.reduce((sum, q) => sum + parseQuantity(q), 0);
      }
      total += (topology.fleet.grafana ? mem(GRAFANA_SIZING) : 0) + CHART_EXTRAS;
    }
  }
  return total;
}

interface Tool {
  name: string;
  args: string[];
  install: string;
}

const TOOLS: Record<"docker" | "kind" | "kubectl" | "helm", Tool> = {
  docker: {
    name: "docker",
    args: ["info", "--format", "{{json .}}"],
    install: "install Docker: https://docs.docker.com/get-docker/",
  },
  kind: {
    name: "kind",
    args: ["version"],
    install: "install kind v0.32.0: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
  },
  kubectl: {
    name: "kubectl",
    args: ["version", "--client", "-o", "json"],
    install: "install kubectl: https://kubernetes.io/docs/tasks/tools/",
  },
  helm: {
    name: "helm",
    args: ["version", "--short"],
    install: "install Helm 3 or 4: https://helm.sh/docs/intro/install/",
  },
};

async function runTool(exec: Exec, tool: Tool): Promise<{ stdout: string } | PreflightProblem> {
  try {
    return await exec.run(tool.name, tool.args);
  } catch (error) {
    if (error instanceof ExecError && error.notFound) {
      return { check: tool.name, message: `${tool.name} was not found on PATH`, fix: tool.install };
    }
    if (tool.name === "docker") {
      const tail = error instanceof ExecError ? error.tail : String(error);
      return {
        check: "docker",
        message: `Docker daemon not reachable: ${tail.split("\n").find((l) => l.trim() && !l.startsWith("{")) ?? tail}`,
        fix: "start Docker (Docker Desktop, or 'sudo systemctl start docker' on Linux) and check that 'docker info' answers",
      };
    }
    const tail = error instanceof ExecError ? error.tail : String(error);
    return {
      check: tool.name,
      message: `'${tool.name} ${tool.args.join(" ")}' failed: ${tail}`,
      fix: tool.install,
    };
  }
}

const isProblem = (x: unknown): x is PreflightProblem => typeof x === "object" && x !== null && "fix" in x;

/** Runs every check that applies to this fleet; throws PreflightError listing all problems at once. */
export async function preflight(
  topology: Topology,
  clusters: RenderedCluster[],
  deps: PreflightDeps,
): Promise<PreflightResult> {
  const problems: PreflightProblem[] = [];
  const warnings: string[] = [];
  const facts: string[] = [];
  const kindClusters = clusters.filter((c) => c.kindConfig);
  const existing = clusters.filter((c) => !c.kindConfig);
  const needsHelm = topology.workloads.length > 0;

  const [docker, kind, kubectl, helm] = await Promise.all([
    kindClusters.length > 0 ? runTool(deps.exec, TOOLS.docker) : undefined,
    kindClusters.length > 0 ? runTool(deps.exec, TOOLS.kind) : undefined,
    runTool(deps.exec, TOOLS.kubectl),
    needsHelm ? runTool(deps.exec, TOOLS.helm) : undefined,
  ]);

  if (docker) {
    if (isProblem(docker)) problems.push(docker);
    else {
      const info = JSON.parse(docker.stdout) as {
        ServerVersion?: string;
        MemTotal?: number;
        NCPU?: number;
        OSType?: string;
      };
      facts.push(`Docker ${info.ServerVersion}: ${gib(info.MemTotal ?? 0)} memory, ${info.NCPU} CPUs`);
      const need = memoryNeeded(topology, clusters);
      if (info.MemTotal && info.MemTotal < need) {
        problems.push({
          check: "memory",
          message:
            `Docker can use ${gib(info.MemTotal)} of memory; the fleet's ${kindClusters.length} kind clusters ` +
            `need about ${gib(need)} (profile ${topology.fleet.profile})`,
          fix: "give Docker more memory (Docker Desktop: Settings → Resources → Memory), or run fewer workload clusters",
        });
      } else facts.push(`memory: the kind clusters need about ${gib(need)}`);
    }
  }
  if (kind) {
    if (isProblem(kind)) problems.push(kind);
    else {
      const v = parseVersion(kind.stdout);
      if (!v || !atLeast(v, MIN_KIND)) {
        problems.push({
          check: "kind",
          message: `${kind.stdout.trim() || "kind"} is older than v${MIN_KIND.join(".")}, whose node image the fleet uses`,
          fix: TOOLS.kind.install,
        });
      } else facts.push(kind.stdout.trim());
    }
  }
  if (kubectl) {
    if (isProblem(kubectl)) problems.push(kubectl);
    else {
      const gitVersion = (JSON.parse(kubectl.stdout) as { clientVersion?: { gitVersion?: string } })
        .clientVersion?.gitVersion;
      const v = parseVersion(gitVersion ?? "");
      facts.push(`kubectl ${gitVersion}`);
      // kubectl talks to the clusters only when a person runs it; a skew is worth a warning, not a stop.
      if (v && v[0] === 1 && Math.abs(v[1] - 36) > 1) {
        warnings.push(
          `kubectl ${gitVersion} is more than one minor version away from the clusters' Kubernetes v1.36`,
        );
      }
    }
  }
  if (helm) {
    if (isProblem(helm)) problems.push(helm);
    else {
      const v = parseVersion(helm.stdout);
      const ok = v && ((v[0] === 3 && atLeast(v, MIN_HELM3)) || v[0] === 4);
      if (!ok) {
        problems.push({
          check: "helm",
          message: `helm ${helm.stdout.trim()} is not supported (Helm 3 from v${MIN_HELM3.join(".")}, or Helm 4)`,
          fix: TOOLS.helm.install,
        });
      } else {
        facts.push(`helm ${helm.stdout.trim()}`);
        rememberHelmVersion(deps.exec, helm.stdout);
      }
    }
  }
  if (kindClusters.length > 0 && deps.platform === "linux") {
    for (const [name, min] of Object.entries(INOTIFY)) {
      const raw = await deps.readSysctl(name);
      const value = raw === undefined ? undefined : Number(raw.trim());
      if (value !== undefined && value < min) {
        const key = name.replaceAll("/", ".");
        problems.push({
          check: "inotify",
          message: `${key} is ${value}; kind needs at least ${min} for the fleet's nodes ("too many open files" otherwise)`,
          fix: `run 'sudo sysctl ${key}=${min}' and keep it in /etc/sysctl.d/99-kind.conf`,
        });
      }
    }
  }
  const airGap = [
    await localChartFindings(topology),
    ...(deps.imagesArchive && !isProblem(docker ?? {})
      ? [await imageArchiveFindings(topology, clusters, deps.exec, deps.imagesArchive)]
      : []),
  ];
  for (const f of airGap) {
    problems.push(...f.problems);
    facts.push(...f.facts);
    warnings.push(...f.warnings);
  }
  if (topology.fleet.tls.issuer && kindClusters.some((c) => (c.certificates ?? []).length > 0)) {
    const { kind, name } = topology.fleet.tls.issuer;
    warnings.push(
      `tls.issuer: cert-manager must run in each kind cluster (${kindClusters.map((c) => c.cluster).join(", ")}) ` +
        `with ${kind} ${name} before up reaches its Certificates; up waits for them and names what is missing`,
    );
  }
  // Asked at once, reported in fleet order.
  for (const found of await Promise.all(existing.map((c) => checkContext(topology, c, deps)))) {
    problems.push(...found.problems);
    facts.push(...found.facts);
    warnings.push(...found.warnings);
  }
  if (problems.length > 0) throw new PreflightError(problems);
  return { warnings, facts };
}

interface ContextFindings {
  problems: PreflightProblem[];
  facts: string[];
  warnings: string[];
}

async function checkContext(
  topology: Topology,
  c: RenderedCluster,
  deps: PreflightDeps,
): Promise<ContextFindings> {
  let api: KubeApi;
  try {
    api = deps.api(c.context);
  } catch (error) {
    return found({
      check: "context",
      message: `cluster ${c.cluster}: ${(error as Error).message}`,
      fix: `run 'kubectl config get-contexts' and set the context of ${c.cluster} in fleet.yaml`,
    });
  }
  const timeoutMs = deps.contextTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const nodes = await Promise.race([
      api.listNodes(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
      }),
    ]);
    const fact = `cluster ${c.cluster}: context ${c.context} answers, ${nodes.length} nodes`;
    const ports = await takenNodePorts(topology, c, api);
    const issuer = await issuerProblems(topology, c, api);
    return { problems: [...ports.problems, ...issuer], warnings: ports.warnings, facts: [fact] };
  } catch (error) {
    return found({
      check: "context",
      message: `cluster ${c.cluster}: context ${c.context} does not answer: ${(error as Error).message}`,
      fix: `check it with 'kubectl --context ${c.context} get nodes' (credentials, VPN, the API server's address)`,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * With a cert-manager Issuer (`tls.issuer`), an existing cluster must serve cert-manager's Certificate and have the
 * Issuer (a ClusterIssuer, or an Issuer in the fleet's namespace): otherwise `up` would stop at its Certificates,
 * after creating its namespace and Secrets.
 */
async function issuerProblems(
  topology: Topology,
  c: RenderedCluster,
  api: KubeApi,
): Promise<PreflightProblem[]> {
  const issuer = topology.fleet.tls.issuer;
  if (!issuer || (c.certificates ?? []).length === 0) return [];
  const crd = await api.get({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: "certificates.cert-manager.io",
  });
  if (!crd) {
    return [
      {
        check: "cert-manager",
        message: `cluster ${c.cluster}: context ${c.context} has no cert-manager (no CRD certificates.cert-manager.io), which tls.issuer needs`,
        fix: `install cert-manager there with ${issuer.kind} ${issuer.name} (signing with the CA of tls.issuer.ca), or remove tls.issuer`,
      },
    ];
  }
  const ref =
    issuer.kind === "ClusterIssuer"
      ? { apiVersion: `${issuer.group}/v1`, kind: issuer.kind, name: issuer.name }
      : { apiVersion: `${issuer.group}/v1`, kind: issuer.kind, name: issuer.name, namespace: NAMESPACE };
  if (issuer.group === "cert-manager.io" && !(await api.get(ref))) {
    return [
      {
        check: "cert-manager",
        message: `cluster ${c.cluster}: context ${c.context} has no ${issuer.kind} ${issuer.name}${issuer.kind === "Issuer" ? ` in namespace ${NAMESPACE}` : ""} (fleet.yaml's tls.issuer)`,
        fix: `create it there (the same CA in every cluster of the fleet: tls.issuer.ca), or name another in tls.issuer`,
      },
    ];
  }
  return [];
}

function found(problem: PreflightProblem): ContextFindings {
  return { problems: [problem], facts: [], warnings: [] };
}

/** A Service the fleet applied, or its kube-prometheus-stack release made, in an earlier `up`. */
function isFleets(service: KubeObject): boolean {
  const labels = service.metadata.labels ?? {};
  if (labels[MANAGED_BY_LABEL] === FIELD_MANAGER) return true;
  const release = labels.release ?? labels["app.kubernetes.io/instance"];
  return service.metadata.namespace === NAMESPACE && release === RELEASE;
}

/**
 * The NodePorts this fleet plans on an existing cluster that another Service already holds: the API server would
 * refuse them halfway through `up`, so they are named here with the fleet.yaml field that sets them.
 */
async function takenNodePorts(
  topology: Topology,
  c: RenderedCluster,
  api: KubeApi,
): Promise<Omit<ContextFindings, "facts">> {
  const index = topology.fleet.clusters.findIndex((x) => x.name === c.cluster);
  const config = topology.fleet.clusters[index];
  if (!config) return { problems: [], warnings: [] };
  let services: KubeObject[];
  try {
    services = await api.list("v1", "Service");
  } catch (error) {
    const why = (error as Error).message;
    return {
      problems: [],
      warnings: [`cluster ${c.cluster}: cannot list Services to check NodePorts: ${why}`],
    };
  }
  const holders = new Map<number, string>();
  for (const s of services.filter((x) => !isFleets(x))) {
    const ports = (s.spec as { ports?: { nodePort?: number }[] } | undefined)?.ports ?? [];
    for (const p of ports)
      if (p.nodePort) holders.set(p.nodePort, `${s.metadata.namespace}/${s.metadata.name}`);
  }
  const problems = fleetNodePorts(topology.fleet, config).flatMap((planned): PreflightProblem[] => {
    const { key, port } = planned;
    const holder = holders.get(port);
    if (!holder) return [];
    const replica = key.split("+")[1];
    const field = fieldPath(["clusters", index, ...planned.field]);
    return [
      {
        check: "nodeports",
        message: `cluster ${c.cluster}: NodePort ${port} (${field}${replica ? ` + ${replica}` : ""}) is held by Service ${holder} in context ${c.context}`,
        fix: `set a free port for ${field} in fleet.yaml, or remove Service ${holder}`,
      },
    ];
  });
  return { problems, warnings: [] };
}
