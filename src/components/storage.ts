// What the storage cluster's S3 server is, whichever it is (SeaweedFS or MinIO): its sizing, user, Service, the ports a
// person opens, where every cluster reaches the bucket and what Prometheus scrapes of it.

import type { Credentials } from "../state/credentials.ts";
import type { StorageConfig } from "../topology/schema.ts";
import type { Topology } from "../topology/topology.ts";
import { type Addresses, NAMESPACE, type ObjectStoreAccess } from "./context.ts";
import { resourcesFor, type Sizing } from "./resources.ts";
import { type ComponentSpec, type Container, type Opening, type ServicePort, START_STAGE } from "./types.ts";
import type { ScrapeTls } from "./web.ts";

/** One small replica is plenty for a fleet's blocks (the official MinIO chart asks 16Gi per pod). */
const OBJECT_STORE_SIZING: Sizing = { memory: 256, limit: 1024, cpu: 50 };

/** The uid SeaweedFS's image runs as; MinIO's runs as it too. */
const OBJECT_STORE_UID = 1000;

/** The facts both S3 servers share; each server's module gives the rest of its container. */
type ServerContainer = Omit<Container, "component" | "resources" | "runAsUser" | "persistent">;

/**
 * The S3 server: one replica in the storage cluster, started first, its data on a claim. Its Service has the S3 API
 * on the cluster's `api` NodePort, the console (MinIO) or metrics (SeaweedFS) on its `console` NodePort, and ports
 * only the cluster itself dials.
 */
export function objectStore(
  topology: Topology,
  workload: string,
  container: ServerContainer,
  ports: { api: number; console: { name: string; port: number }; internal?: ServicePort[] },
  /** Containers beside the server in its pod, such as the one that serves SeaweedFS's metrics over HTTPS. */
  companions: Container[] = [],
): ComponentSpec {
  const storage = topology.storage;
  if (!storage) throw new Error(`${workload} needs a storage cluster to run in`);
  const { name, ...rest } = container;
  const server: Container = {
    name,
    component: "object-store",
    ...rest,
    resources: resourcesFor(OBJECT_STORE_SIZING, topology.fleet.profile),
    runAsUser: OBJECT_STORE_UID,
    persistent: true,
  };
  const pod = {
    cluster: storage.name,
    name: workload,
    replicas: 1,
    stateful: true,
    stage: START_STAGE.storage,
  };
  return {
    pods: [{ ...pod, containers: [server, ...companions] }],
    services: [
      {
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
      },
    ],
  };
}

/** The storage cluster's S3 server by its name, as messages and step titles call it. */
export function storageServerName(storage: StorageConfig): "MinIO" | "SeaweedFS" {
  return storage.server === "minio" ? "MinIO" : "SeaweedFS";
}

/** The S3 API and the console (MinIO) or metrics (SeaweedFS). kind's host ports keep the `minio-` names for both. */
export function storageOpenings(topology: Topology): Opening[] {
  const s = topology.storage;
  if (!s) return [];
  const minio = s.server === "minio";
  const server = storageServerName(s);
  const https = topology.fleet.tls.s3;
  return [
    {
      cluster: s.name,
      name: "minio-api",
      title: `${server} API (S3)`,
      nodePort: s.nodePorts.api,
      runtimes: ["kubernetes", "local"],
      ui: false,
      ...(https ? { https } : {}),
    },
    {
      cluster: s.name,
      name: "minio-console",
      title: minio ? "MinIO console" : "SeaweedFS metrics",
      nodePort: s.nodePorts.console,
      runtimes: ["kubernetes", "local"],
      ui: true,
      // MinIO serves its console with the API's certificate.
      ...(https && minio ? { https } : {}),
    },
  ];
}

/** The storage server's Service (named after its workload, `seaweedfs` or `minio`), whose names its certificate carries. */
export function storageService(topology: Topology): { name: string; namespace: string } {
  const storage = topology.storage;
  if (!storage) throw new Error("the topology has no storage cluster");
  return { name: storage.server, namespace: NAMESPACE };
}

/** Where every cluster reaches the bucket, with Thanos's own bucket-scoped key. */
export function objectStoreAccess(
  topology: Topology,
  creds: Credentials,
  addresses: Addresses,
): ObjectStoreAccess {
  const keys = { accessKey: creds.thanos.accessKey, secretKey: creds.thanos.secretKey };
  if (topology.objectStore) {
    const { endpoint, insecure, region } = topology.objectStore;
    return { endpoint, insecure, region, bucket: topology.fleet.bucket, ...keys };
  }
  const storage = topology.storage;
  if (!storage) throw new Error("the topology has neither a storage cluster nor an objectStore");
  return {
    endpoint: addresses.exposed(storage.name, storage.nodePorts.api),
    insecure: !topology.fleet.tls.s3,
    bucket: topology.fleet.bucket,
    ...keys,
  };
}

/** The storage server's metrics, scraped by each workload cluster's Prometheus (the guide's MinIO job). */
export function storageScrapeJob(
  storage: StorageConfig,
  addresses: Addresses,
  /** With `tls.http`: SeaweedFS's metrics are federated from the Prometheus in its pod, over HTTPS. */
  webTls: ScrapeTls,
  /** With the storage cluster's HTTPS: MinIO's metrics are on its HTTPS API, verified against the fleet CA. */
  s3Tls?: { ca: string; serverName: string },
): Record<string, unknown> {
  if (storage.server === "seaweedfs") {
    const target = {
      static_configs: [{ targets: [addresses.exposed(storage.name, storage.nodePorts.console)] }],
    };
    if (!webTls.scheme) return { job_name: SEAWEEDFS_METRICS_JOB, ...target };
    return {
      job_name: SEAWEEDFS_METRICS_JOB,
      metrics_path: "/federate",
      // SeaweedFS's own series only: the front's `up` and `scrape_*` of them would vanish from the view whenever the
      // storage pod is down (a hole, to the drill), where this job's own `up` says 0.
      params: { "match[]": [`{job="${SEAWEEDFS_METRICS_JOB}",__name__!~"up|scrape_.+"}`] },
      // The series keep the job and instance the front gave them.
      honor_labels: true,
      ...webTls,
      ...target,
    };
  }
  const job = minioScrapeJob(addresses.exposed(storage.name, storage.nodePorts.api));
  if (!s3Tls) return job;
  return { ...job, scheme: "https", tls_config: { ca: s3Tls.ca, server_name: s3Tls.serverName } };
}

/** The job SeaweedFS's metrics are scraped under, by the workload clusters or by the Prometheus in its pod. */
export const SEAWEEDFS_METRICS_JOB = "seaweedfs-metrics";

/** The MinIO metrics job the guide adds to each workload cluster's Prometheus. */
export function minioScrapeJob(target: string): Record<string, unknown> {
  return {
    job_name: "minio-metrics",
    metrics_path: "/minio/v2/metrics/cluster",
    static_configs: [{ targets: [target] }],
  };
}
