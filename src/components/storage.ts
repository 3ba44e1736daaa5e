// What the storage cluster's S3 server is, whichever it is (SeaweedFS or MinIO): its sizing, user, Service and the
// ports a person opens.
import type { StorageConfig } from "../topology/schema.ts";
import type { Topology } from "../topology/topology.ts";
import type { Addresses } from "./context.ts";
import type { Sizing } from "./resources.ts";
import type { Opening, ServicePort, ServiceSpec } from "./types.ts";

/** One small replica is plenty for a fleet's blocks (the official MinIO chart asks 16Gi per pod). */
export const OBJECT_STORE_SIZING: Sizing = { memory: 256, limit: 1024, cpu: 50 };

/** The uid SeaweedFS's image runs as; MinIO's runs as it too. */
export const OBJECT_STORE_UID = 1000;

export function storageCluster(topology: Topology): StorageConfig {
  const storage = topology.storage;
  if (!storage) throw new Error("the topology has no storage cluster to run the object store in");
  return storage;
}

/**
 * The S3 server's Service: the S3 API on the cluster's `api` NodePort, the console (MinIO) or metrics (SeaweedFS) on
 * its `console` NodePort, and ports only the cluster itself dials.
 */
export function storageServices(
  storage: StorageConfig,
  workload: string,
  ports: { api: number; console: { name: string; port: number }; internal?: ServicePort[] },
): ServiceSpec {
  return {
    cluster: storage.name,
    name: workload,
    selector: { workload },
    ports: [
      { name: "api", port: ports.api, targetPort: ports.api, nodePort: storage.nodePorts.api },
      {
        name: ports.console.name,
        port: ports.console.port,
        targetPort: ports.console.port,
        nodePort: storage.nodePorts.console,
      },
      ...(ports.internal ?? []),
    ],
  };
}

/** The S3 API and the console (MinIO) or metrics (SeaweedFS). kind's host ports keep the `minio-` names for both. */
export function storageOpenings(topology: Topology): Opening[] {
  const s = topology.storage;
  if (!s) return [];
  const minio = s.server === "minio";
  return [
    {
      cluster: s.name,
      name: "minio-api",
      title: minio ? "MinIO API (S3)" : "SeaweedFS API (S3)",
      nodePort: s.nodePorts.api,
      runtimes: ["kubernetes", "local"],
    },
    {
      cluster: s.name,
      name: "minio-console",
      title: minio ? "MinIO console" : "SeaweedFS metrics",
      nodePort: s.nodePorts.console,
      runtimes: ["kubernetes", "local"],
    },
  ];
}

/** The storage server's metrics, scraped by each workload cluster's Prometheus (the guide's MinIO job). */
export function storageScrapeJob(storage: StorageConfig, addresses: Addresses): Record<string, unknown> {
  if (storage.server === "seaweedfs") {
    return {
      job_name: "seaweedfs-metrics",
      static_configs: [{ targets: [addresses.exposed(storage.name, storage.nodePorts.console)] }],
    };
  }
  return minioScrapeJob(addresses.exposed(storage.name, storage.nodePorts.api));
}

/** The MinIO metrics job the guide adds to each workload cluster's Prometheus. */
export function minioScrapeJob(target: string): Record<string, unknown> {
  return {
    job_name: "minio-metrics",
    metrics_path: "/minio/v2/metrics/cluster",
    static_configs: [{ targets: [target] }],
  };
}
