// MinIO, the storage cluster's S3 endpoint: one replica, modest memory, metrics readable by Prometheus.

import type { Topology } from "../topology/topology.ts";
import { PINNED } from "../versions.ts";
import type { SpecContext } from "./context.ts";
import { resourcesFor } from "./resources.ts";
import { OBJECT_STORE_SIZING, OBJECT_STORE_UID, storageCluster, storageServices } from "./storage.ts";
import { type ComponentSpec, START_STAGE } from "./types.ts";

export const MINIO_API_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
export const MINIO_WORKLOAD = "minio";

export interface MinioRoot {
  user: string;
  password: string;
}

export function minio(topology: Topology, ctx: SpecContext, root: MinioRoot): ComponentSpec {
  const storage = storageCluster(topology);
  const pod = {
    cluster: storage.name,
    name: MINIO_WORKLOAD,
    replicas: 1,
    stateful: true,
    stage: START_STAGE.storage,
    containers: [
      {
        name: "minio",
        component: "object-store" as const,
        binary: "minio" as const,
        image: PINNED.minioImage,
        args: [
          "server",
          ctx.dataDir(MINIO_WORKLOAD, "minio"),
          `--address=${ctx.listenHost}:${MINIO_API_PORT}`,
          `--console-address=${ctx.listenHost}:${MINIO_CONSOLE_PORT}`,
        ],
        env: { MINIO_PROMETHEUS_AUTH_TYPE: "public", MINIO_BROWSER_REDIRECT: "off" },
        secretEnv: { MINIO_ROOT_USER: root.user, MINIO_ROOT_PASSWORD: root.password },
        files: [],
        ports: [
          { name: "api", port: MINIO_API_PORT, protocol: "http" as const },
          { name: "console", port: MINIO_CONSOLE_PORT, protocol: "http" as const },
        ],
        readiness: { port: "api", path: "/minio/health/ready" },
        liveness: { port: "api", path: "/minio/health/live" },
        resources: resourcesFor(OBJECT_STORE_SIZING, topology.fleet.profile),
        runAsUser: OBJECT_STORE_UID,
        persistent: true,
        dataDir: ctx.dataDir(MINIO_WORKLOAD, "minio"),
      },
    ],
  };
  return {
    pods: [pod],
    services: [
      storageServices(storage, MINIO_WORKLOAD, {
        api: MINIO_API_PORT,
        console: { name: "console", port: MINIO_CONSOLE_PORT },
      }),
    ],
  };
}
