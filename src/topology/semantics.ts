// Rules that span fields: one observer, unique names and label sets, NodePorts that do not collide.
import type { ConfigProblem } from "./errors.ts";
import { fieldPath } from "./errors.ts";
import { type ClusterConfig, type FleetConfig, NODE_PORT_MAX, NODE_PORT_MIN } from "./schema.ts";
import { refusedValues } from "./values.ts";

export const REPLICA_LABELS = ["prometheus_replica", "ruler_replica"] as const;

type PathProblem = ConfigProblem & { path: PropertyKey[] };

function problem(path: PropertyKey[], message: string, fix: string): PathProblem {
  return { path, field: fieldPath(path), message, fix };
}

export function semanticProblems(fleet: FleetConfig): PathProblem[] {
  return [
    ...roleProblems(fleet),
    ...nameProblems(fleet),
    ...labelProblems(fleet),
    ...nodePortProblems(fleet),
    ...valuesProblems(fleet),
  ];
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
    for (const reserved of REPLICA_LABELS) {
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
          `gives the same external labels {${key}} as clusters[${first}], so the compactor would halt on overlapping blocks`,
          "give each workload cluster a distinct cluster label",
        ),
      );
    }
  });
  return out;
}

/** Every NodePort a cluster exposes, with replica ranges expanded. */
export function clusterNodePorts(c: ClusterConfig): { key: string; port: number }[] {
  if (c.role !== "workload") return Object.entries(c.nodePorts).map(([key, port]) => ({ key, port }));
  const { replicas } = c.prometheus;
  return Object.entries(c.nodePorts).flatMap(([key, port]) =>
    ["sidecarGrpc", "sidecarHttp", "prometheus"].includes(key)
      ? Array.from({ length: replicas }, (_, r) => ({
          key: replicas > 1 ? `${key}+${r}` : key,
          port: port + r,
        }))
      : [{ key, port }],
  );
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
