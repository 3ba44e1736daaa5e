// Rules that span fields: one observer, unique names and label sets, NodePorts that do not collide.
import { parseDuration } from "../duration.ts";
import type { ConfigProblem } from "./errors.ts";
import { echo, fieldPath } from "./errors.ts";
import {
  type ClusterConfig,
  type FleetConfig,
  NODE_PORT_MAX,
  NODE_PORT_MIN,
  type WorkloadConfig,
} from "./schema.ts";
import { refusedValues } from "./values.ts";

export const REPLICA_LABELS = ["prometheus_replica", "ruler_replica"] as const;
/** The label each Thanos Receive ingester adds to what it stores: query deduplicates on it when receive is used. */
export const RECEIVE_REPLICA_LABEL = "receive_replica";
/** The label Thanos Receive puts on each tenant's series; a receive-mode cluster is its own tenant. */
export const TENANT_LABEL = "tenant_id";

/** Whether any workload cluster remote-writes to Thanos Receive, so the observer runs it. */
export function usesReceive(fleet: { clusters: readonly { role: string; mode?: string }[] }): boolean {
  return fleet.clusters.some((c) => c.role === "workload" && c.mode === "receive");
}

/**
 * Label names the fleet's own alerts, rules and checks rely on. An external label is set over every series' own
 * label of that name (the sidecar does so) and over the fleet's alert labels, so none of these may be one.
 */
export const FLEET_LABELS: Record<string, string> = {
  severity: "the fleet's alerts carry their own severity (critical, warning, none), which it would override",
  alertname: "alerts are named by it",
  job: "the fleet's rules and checks select series by job, and the sidecar would set it over every series' own",
  instance:
    "the fleet's alerts name the failed process by instance, and the sidecar would set it over every series' own",
};

type PathProblem = ConfigProblem & { path: PropertyKey[] };

function problem(path: PropertyKey[], message: string, fix: string): PathProblem {
  return { path, field: fieldPath(path), message, fix };
}

export function semanticProblems(fleet: FleetConfig): PathProblem[] {
  return [
    ...roleProblems(fleet),
    ...nameProblems(fleet),
    ...labelProblems(fleet),
    ...retentionProblems(fleet),
    ...nodePortProblems(fleet),
    ...valuesProblems(fleet),
    ...receiveProblems(fleet),
    ...issuerProblems(fleet),
  ];
}

/** A cert-manager Issuer signs the servers' certificates, the user's own CA would sign them too: one of the two. */
function issuerProblems(fleet: FleetConfig): PathProblem[] {
  if (!fleet.tls.issuer || !fleet.tls.ca) return [];
  return [
    problem(
      ["tls", "issuer"],
      "is set together with tls.ca: the servers' certificates come from one of them",
      "remove tls.ca (your cert-manager Issuer signs the servers' certificates; thanos-fleet's CA still signs the client certificates) or remove tls.issuer",
    ),
  ];
}

/**
 * Receive's settings that cannot work: more copies than ingesters to hold them; an even replication factor, whose
 * write quorum (RF/2 + 1, Thanos's) tolerates no more lost ingesters than the odd factor below it; a remote-write
 * endpoint that would leave its cluster without mutual TLS.
 */
function receiveProblems(fleet: FleetConfig): PathProblem[] {
  if (!usesReceive(fleet)) return [];
  const index = fleet.clusters.findIndex((c) => c.role === "observer");
  const observer = fleet.clusters[index];
  if (!observer || observer.role !== "observer") return [];
  const out: PathProblem[] = [];
  const { replicationFactor: rf, ingesters } = observer.receive;
  const base = ["clusters", index, "receive"];
  if (rf > ingesters) {
    out.push(
      problem(
        [...base, "replicationFactor"],
        `${rf} copies of each series need ${rf} ingesters, but receive.ingesters is ${ingesters}`,
        `set receive.ingesters to ${rf} or more, or lower replicationFactor`,
      ),
    );
  }
  if (rf % 2 === 0) {
    const quorum = Math.floor(rf / 2) + 1;
    out.push(
      problem(
        [...base, "replicationFactor"],
        `${rf} is even: a write needs ${quorum} of ${rf} copies, so it survives ${rf - quorum} lost ingester(s), no more than replication factor ${rf - 1} at more cost`,
        `set it to ${rf + 1} (or ${rf - 1})`,
      ),
    );
  }
  const tlsGrpcOff = !fleet.tls.grpc;
  if (tlsGrpcOff) {
    const first = fleet.clusters.findIndex((c) => c.role === "workload" && c.mode === "receive");
    out.push(
      problem(
        ["clusters", first, "mode"],
        "is receive while tls.grpc is false: the remote-write endpoint leaves the cluster and is served only with mutual TLS, from the fleet CA tls.grpc makes",
        "remove tls.grpc: false, or set this cluster's mode to sidecar",
      ),
    );
  }
  const ports = clusterNodePorts(observer);
  const clash = ports.find((p) => p.port === observer.receive.nodePort);
  if (clash) {
    out.push(
      problem(
        [...base, "nodePort"],
        `uses NodePort ${observer.receive.nodePort}, already used by ${clash.key} in cluster ${observer.name}`,
        "choose a free port",
      ),
    );
  }
  return out;
}

/** kubePrometheusStackValues may not set what the fleet depends on: each such key names the field to use instead. */
function valuesProblems(fleet: FleetConfig): PathProblem[] {
  const out: PathProblem[] = [];
  const add = (base: PropertyKey[], values: Record<string, unknown>, cluster?: string) => {
    for (const r of refusedValues(values, cluster)) out.push(problem([...base, ...r.path], r.message, r.fix));
  };
  add(["kubePrometheusStackValues"], fleet.kubePrometheusStackValues);
  fleet.clusters.forEach((c, i) => {
    if (c.role === "workload") {
      add(
        ["clusters", i, "kubePrometheusStackValues"],
        c.kubePrometheusStackValues,
        fieldPath(["clusters", i]),
      );
    }
  });
  return out;
}

function roleProblems(fleet: FleetConfig): PathProblem[] {
  const out: PathProblem[] = [];
  const count = (role: ClusterConfig["role"]) => fleet.clusters.filter((c) => c.role === role).length;
  const observers = count("observer");
  if (observers !== 1) {
    out.push(
      problem(
        ["clusters"],
        `must have exactly one cluster with role observer, found ${observers}`,
        observers === 0
          ? "add a cluster with role: observer"
          : "keep one observer and make the others workload clusters",
      ),
    );
  }
  if (count("workload") === 0) {
    out.push(problem(["clusters"], "has no workload cluster", "add a cluster with role: workload"));
  }
  const storage = count("storage");
  if (storage > 1) {
    out.push(problem(["clusters"], `has ${storage} storage clusters`, "keep one cluster with role: storage"));
  }
  if (storage === 0 && !fleet.objectStore) {
    out.push(
      problem(
        ["clusters"],
        "has no object storage",
        "add a cluster with role: storage, or set objectStore to an S3 endpoint",
      ),
    );
  }
  if (storage > 0 && fleet.objectStore) {
    out.push(
      problem(
        ["objectStore"],
        "is set while a storage cluster exists",
        "remove objectStore or the storage cluster",
      ),
    );
  }
  return out;
}

function nameProblems(fleet: FleetConfig): PathProblem[] {
  const seen = new Map<string, number>();
  const out: PathProblem[] = [];
  fleet.clusters.forEach((c, i) => {
    const first = seen.get(c.name);
    if (first === undefined) seen.set(c.name, i);
    else
      out.push(
        problem(
          ["clusters", i, "name"],
          `'${c.name}' is already used by clusters[${first}]`,
          "give each cluster a unique name",
        ),
      );
  });
  return out;
}

/** The external labels a workload cluster's Prometheus carries, before the replica label. */
export function clusterLabels(c: {
  name: string;
  externalLabels: Record<string, string>;
}): Record<string, string> {
  return { cluster: c.name, ...c.externalLabels };
}

export function labelSetKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}

function labelProblems(fleet: FleetConfig): PathProblem[] {
  const out: PathProblem[] = [];
  const seen = new Map<string, number>();
  fleet.clusters.forEach((c, i) => {
    if (c.role !== "workload") return;
    for (const [name, value] of Object.entries(c.externalLabels)) {
      const path = ["clusters", i, "externalLabels", name];
      if (name.startsWith("__")) {
        out.push(
          problem(path, "is reserved: label names starting with __ are Prometheus's own", "rename it"),
        );
      } else if (FLEET_LABELS[name]) {
        out.push(
          problem(
            path,
            `is a label of the fleet's own (${FLEET_LABELS[name]})`,
            `rename it, e.g. ${name}_label or tier`,
          ),
        );
      }
      if (value.includes("{{")) {
        out.push(
          problem(
            path,
            `${echo(value)} holds "{{": the fleet's alerts carry this label, and Prometheus and Thanos read alert label values as Go templates`,
            'remove "{{" from the value',
          ),
        );
      }
    }
    if (c.mode === "receive" && TENANT_LABEL in c.externalLabels) {
      out.push(
        problem(
          ["clusters", i, "externalLabels", TENANT_LABEL],
          "is set by Thanos Receive to the cluster's tenant (its name), over this value",
          `remove ${TENANT_LABEL} from externalLabels`,
        ),
      );
    }
    for (const reserved of [...REPLICA_LABELS, RECEIVE_REPLICA_LABEL]) {
      if (reserved in c.externalLabels) {
        out.push(
          problem(
            ["clusters", i, "externalLabels", reserved],
            "is set by thanos-fleet for deduplication",
            `remove ${reserved} from externalLabels`,
          ),
        );
      }
    }
    const key = labelSetKey(clusterLabels(c));
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else {
      out.push(
        problem(
          ["clusters", i, "externalLabels"],
          `gives the same external labels {${clip(key)}} as clusters[${first}], so the compactor would halt on overlapping blocks`,
          "give each workload cluster a distinct cluster label",
        ),
      );
    }
  });
  return out;
}

/** A label set as messages show it: at most a few lines' worth. */
function clip(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)}… (${text.length} characters)`;
}

/** The least raw and 5m retention with which Thanos's compactor starts at all (it downsamples at 40h and 10d). */
const DOWNSAMPLE_AFTER = {
  raw: { ms: 40 * 3_600_000, text: "40h" },
  fiveMinutes: { ms: 10 * 86_400_000, text: "10d" },
};

/** The compactor refuses to start when raw or 5m data would be deleted before it is downsampled; 0 keeps for ever. */
function retentionProblems(fleet: FleetConfig): PathProblem[] {
  const out: PathProblem[] = [];
  for (const key of ["raw", "fiveMinutes"] as const) {
    const ms = parseDuration(fleet.retention[key]);
    const least = DOWNSAMPLE_AFTER[key];
    if (ms !== 0 && ms < least.ms) {
      out.push(
        problem(
          ["retention", key],
          `${fleet.retention[key]} is shorter than ${least.text}, after which the compactor downsamples ${key === "raw" ? "raw data to 5m" : "5m data to 1h"}: Thanos's compactor refuses to start with it`,
          `set it to ${least.text} or more, or 0d to keep it for ever`,
        ),
      );
    }
  }
  return out;
}

type WorkloadMode = WorkloadConfig["mode"];
type WorkloadNodePortKey = keyof WorkloadConfig["nodePorts"];

/** What one of a workload cluster's `nodePorts` opens. */
interface WorkloadNodePortUse {
  /** One port per Prometheus replica, replica i on the base + i; else the one port. */
  perReplica: boolean;
  /** The modes whose clusters listen on it. */
  modes: readonly WorkloadMode[];
}

/**
 * Each key of a workload cluster's `nodePorts`: whether it opens one port per Prometheus replica, and in which modes
 * anything listens on it (a receive-mode cluster runs no sidecar). The one place the "+i" rule lives: validation
 * expands these ranges (clusterNodePorts), and the component modules that own the ports compute theirs with
 * workloadNodePort. Kept in the topology layer, below the components, because validation needs it and may not
 * import them; a new key must be placed here (the compiler asks for it).
 */
export const WORKLOAD_NODE_PORTS: Readonly<Record<WorkloadNodePortKey, WorkloadNodePortUse>> = {
  sidecarGrpc: { perReplica: true, modes: ["sidecar"] },
  sidecarHttp: { perReplica: true, modes: ["sidecar"] },
  prometheus: { perReplica: true, modes: ["sidecar", "receive"] },
  alertmanager: { perReplica: false, modes: ["sidecar", "receive"] },
  grafana: { perReplica: false, modes: ["sidecar", "receive"] },
};

/**
 * The NodePort `key` opens for Prometheus replica `replica` of a workload cluster (0 for a key with one port). Asking
 * for a port the cluster's mode leaves unused, or a replica it does not run, is a defect of the caller.
 */
export function workloadNodePort(w: WorkloadConfig, key: WorkloadNodePortKey, replica: number): number {
  const use = WORKLOAD_NODE_PORTS[key];
  if (!use.modes.includes(w.mode)) {
    throw new Error(`cluster ${w.name} is in ${w.mode} mode, which opens no nodePorts.${key}`);
  }
  const replicas = use.perReplica ? w.prometheus.replicas : 1;
  if (!Number.isInteger(replica) || replica < 0 || replica >= replicas) {
    throw new Error(
      `cluster ${w.name} opens nodePorts.${key} for ${replicas} replica(s), not for replica ${replica}`,
    );
  }
  return w.nodePorts[key] + replica;
}

/** Every NodePort a cluster exposes, with replica ranges expanded; a key its mode leaves unused is left out. */
export function clusterNodePorts(c: ClusterConfig): { key: string; port: number }[] {
  if (c.role !== "workload") return Object.entries(c.nodePorts).map(([key, port]) => ({ key, port }));
  const { replicas } = c.prometheus;
  return (Object.keys(c.nodePorts) as WorkloadNodePortKey[])
    .filter((key) => WORKLOAD_NODE_PORTS[key].modes.includes(c.mode))
    .flatMap((key) =>
      WORKLOAD_NODE_PORTS[key].perReplica
        ? Array.from({ length: replicas }, (_, r) => ({
            key: replicas > 1 ? `${key}+${r}` : key,
            port: workloadNodePort(c, key, r),
          }))
        : [{ key, port: workloadNodePort(c, key, 0) }],
    );
}

/**
 * Every NodePort a cluster of this fleet opens, with the fleet.yaml field under the cluster that sets it: its
 * nodePorts, and on the observer of a fleet with receive-mode clusters the remote-write endpoint's.
 */
export function fleetNodePorts(
  fleet: { clusters: readonly { role: string; mode?: string }[] },
  c: ClusterConfig,
): { key: string; port: number; field: string[] }[] {
  const ports = clusterNodePorts(c).map((p) => ({
    ...p,
    field: ["nodePorts", p.key.split("+")[0] as string],
  }));
  if (c.role === "observer" && usesReceive(fleet)) {
    ports.push({ key: "receive.nodePort", port: c.receive.nodePort, field: ["receive", "nodePort"] });
  }
  return ports;
}

function nodePortProblems(fleet: FleetConfig): PathProblem[] {
  const out: PathProblem[] = [];
  fleet.clusters.forEach((c, i) => {
    const used = new Map<number, string>();
    for (const { key, port } of clusterNodePorts(c)) {
      const field = key.split("+")[0] as string;
      const path = ["clusters", i, "nodePorts", field];
      if (port > NODE_PORT_MAX || port < NODE_PORT_MIN) {
        out.push(
          problem(
            path,
            `${key} reaches ${port}, outside ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
            "lower the base port or the replica count",
          ),
        );
        continue;
      }
      const other = used.get(port);
      if (other) {
        out.push(
          problem(
            path,
            `${key} uses NodePort ${port}, already used by ${other} in cluster ${c.name}`,
            "choose a free port",
          ),
        );
      } else used.set(port, key);
    }
  });
  return out;
}
