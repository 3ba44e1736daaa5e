// The validated fleet, in the shape the component specs and runtimes read.

import { dirname, isAbsolute, resolve } from "node:path";
import type { z } from "zod";
import { ConfigError, fieldPath } from "./errors.ts";
import type {
  ExternalObjectStore,
  FleetConfig,
  ObserverConfig,
  StorageConfig,
  WorkloadConfig,
} from "./schema.ts";
import { clusterLabels } from "./semantics.ts";

export interface Workload extends WorkloadConfig {
  /** External labels every replica carries, `cluster` included; the replica label is added per replica. */
  labels: Record<string, string>;
  /** The replica label values, as the Prometheus Operator names the pods. */
  replicaNames: string[];
}

export interface Topology {
  /** The file it came from, for messages. */
  source: string;
  fleet: FleetConfig;
  observer: ObserverConfig;
  workloads: Workload[];
  storage?: StorageConfig;
  objectStore?: z.output<typeof ExternalObjectStore>;
  /** The line of fleet.yaml a field (by path) stands in, for problems found after loading (files it names). */
  lineOf: (path: readonly PropertyKey[]) => number | undefined;
}

/** The Prometheus CR kube-prometheus-stack creates for release `kube-prometheus-stack`. */
export const PROMETHEUS_NAME = "kube-prometheus-stack-prometheus";

/**
 * Pod name of Prometheus replica i, which the operator also sets as `prometheus_replica`: the one place the
 * Prometheus pods' names are made (each Workload's `replicaNames`), here because the labels validated above name them.
 */
export function prometheusReplicaName(i: number): string {
  return `prometheus-${PROMETHEUS_NAME}-${i}`;
}

export function toTopology(
  fleet: FleetConfig,
  source: string,
  lineOf: Topology["lineOf"] = () => undefined,
): Topology {
  const observer = fleet.clusters.find((c) => c.role === "observer") as ObserverConfig;
  const storage = fleet.clusters.find((c) => c.role === "storage") as StorageConfig | undefined;
  const workloads = fleet.clusters
    .filter((c): c is WorkloadConfig => c.role === "workload")
    .map((c) => ({
      ...c,
      labels: clusterLabels(c),
      replicaNames: Array.from({ length: c.prometheus.replicas }, (_, i) => prometheusReplicaName(i)),
    }));
  return { source, fleet, observer, workloads, storage, objectStore: fleet.objectStore, lineOf };
}

/** A file fleet.yaml names: a relative path is relative to fleet.yaml's directory (the working directory for the default fleet). */
export function fleetPath(topology: Topology, file: string): string {
  return isAbsolute(file) ? file : resolve(dirname(topology.source), file);
}

/** A problem with a file or a value fleet.yaml names, found after loading: exit 2, at the field's line. */
export function topologyError(
  topology: Topology,
  path: PropertyKey[],
  message: string,
  fix: string,
): ConfigError {
  return new ConfigError(topology.source, [
    { field: fieldPath(path), ...lineField(topology.lineOf(path)), message, fix },
  ]);
}

function lineField(line: number | undefined): { line?: number } {
  return line === undefined ? {} : { line };
}
