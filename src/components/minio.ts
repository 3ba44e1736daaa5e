// MinIO, the storage cluster's S3 endpoint: one replica, modest memory, metrics readable by Prometheus.

import type { Topology } from "../topology/topology.ts";
import { PINNED } from "../versions.ts";
import type { SpecContext } from "./context.ts";
import { objectStore } from "./storage.ts";
import type { ComponentSpec } from "./types.ts";

export const MINIO_API_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
export const MINIO_WORKLOAD = "minio";

export interface MinioRoot {
  user: string;
  password: string;
}

/** MinIO's names for its server certificate and key in `--certs-dir`. */
export const MINIO_TLS_FILES = { cert: "public.crt", key: "private.key" } as const;

export function minio(topology: Topology, ctx: SpecContext, root: MinioRoot): ComponentSpec {
  const tls = ctx.s3Tls;
  const config = ctx.configDir(MINIO_WORKLOAD, "minio");
  return objectStore(
    topology,
    MINIO_WORKLOAD,
    {
      name: "minio",
      binary: "minio",
      image: `${PINNED.minioImage}:${topology.fleet.versions.minio}`,
      args: [
        "server",
        ctx.dataDir(MINIO_WORKLOAD, "minio"),
        `--address=${ctx.listenHost}:${MINIO_API_PORT}`,
        `--console-address=${ctx.listenHost}:${MINIO_CONSOLE_PORT}`,
        // With the fleet CA: HTTPS on the API and the console, with the certificate in this directory.
        ...(tls ? [`--certs-dir=${config}`] : []),
      ],
      env: { MINIO_PROMETHEUS_AUTH_TYPE: "public", MINIO_BROWSER_REDIRECT: "off" },
      secretEnv: { MINIO_ROOT_USER: root.user, MINIO_ROOT_PASSWORD: root.password },
      files: tls
        ? [
            { name: MINIO_TLS_FILES.cert, content: tls.cert },
            { name: MINIO_TLS_FILES.key, content: tls.key, secret: true },
          ]
        : [],
      ports: [
        { name: "api", port: MINIO_API_PORT, protocol: "http" },
        { name: "console", port: MINIO_CONSOLE_PORT, protocol: "http" },
      ],
      readiness: { port: "api", path: "/minio/health/ready", ...(tls ? { https: true } : {}) },
      liveness: { port: "api", path: "/minio/health/live", ...(tls ? { https: true } : {}) },
      dataDir: ctx.dataDir(MINIO_WORKLOAD, "minio"),
    },
    { api: MINIO_API_PORT, console: { name: "console", port: MINIO_CONSOLE_PORT } },
  );
}
