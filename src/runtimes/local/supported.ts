// What the local runtime refuses before it does anything: a platform without /proc, and MinIO as the object store.
import type { Topology } from "../../topology/topology.ts";

/**
 * The local runtime runs SeaweedFS. MinIO is never built here (AGPL), and even with a MinIO binary of the user's own
 * (binaries.minio), Thanos's bucket-scoped key could only be made through MinIO's admin API, whose request bodies
 * only madmin-go (AGPL) encrypts: refused, before anything is created.
 */
export function checkLocalStorage(topology: Topology): void {
  const storage = topology.storage;
  if (storage?.server !== "minio") return;
  const where = `clusters[${topology.fleet.clusters.indexOf(storage)}].server in ${topology.source}`;
  if (topology.fleet.binaries.minio === undefined) {
    throw new Error(
      `${where}: the local runtime does not run MinIO: thanos-fleet never builds it (AGPL, archived upstream). ` +
        "Set server: seaweedfs (the default) for the local runtime; server: minio is for the kubernetes runtime.",
    );
  }
  throw new Error(
    `${where}: binaries.minio is set, but Thanos's bucket-scoped key on MinIO needs MinIO's admin API, whose ` +
      "encrypted requests only madmin-go (AGPL) speaks, and thanos-fleet links no AGPL code. Set server: seaweedfs " +
      "for the local runtime, or run your MinIO yourself and point objectStore (with a key of your own) at it.",
  );
}

/** Process identity comes from /proc: without it, `down` could not tell its processes from others. */
export function requireLinux(): void {
  if (process.platform !== "linux") {
    throw new Error(
      `the local runtime runs on Linux only (it identifies its processes through /proc); this is ${process.platform}. ` +
        "Use the kubernetes runtime (kind) here.",
    );
  }
}
