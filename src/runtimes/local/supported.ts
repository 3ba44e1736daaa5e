// What the local runtime refuses before it does anything: a platform without /proc, MinIO as the object store,
// versions it would not run, and configured binaries that are not there.
import { isExecutableFile } from "../../binaries/cache.ts";
import { CATALOG } from "../../binaries/catalog.ts";
import type { LocalBinary } from "../../topology/schema.ts";
import { fleetPath, type Topology, topologyError } from "../../topology/topology.ts";
import { PINNED } from "../../versions.ts";

/**
 * The local runtime runs SeaweedFS. MinIO is never built here (AGPL), and even with a MinIO binary of the user's own,
 * Thanos's bucket-scoped key could only be made through MinIO's admin API, whose request bodies only madmin-go
 * (AGPL) encrypts: refused, before anything is created.
 */
export function checkLocalStorage(topology: Topology): void {
  const storage = topology.storage;
  if (storage?.server !== "minio") return;
  throw topologyError(
    topology,
    ["clusters", topology.fleet.clusters.indexOf(storage), "server"],
    "the local runtime does not run MinIO: thanos-fleet never builds it (AGPL, archived upstream), and Thanos's " +
      "bucket-scoped key on MinIO needs MinIO's admin API, whose encrypted requests only madmin-go (AGPL) speaks",
    "set server: seaweedfs (the default) for the local runtime; server: minio is for the kubernetes runtime",
  );
}

/** A cert-manager Issuer runs in a Kubernetes cluster: the local runtime has none to ask for certificates. */
export function checkLocalIssuer(topology: Topology): void {
  if (!topology.fleet.tls.issuer) return;
  throw topologyError(
    topology,
    ["tls", "issuer"],
    "a cert-manager Issuer needs Kubernetes: the local runtime has no cert-manager to sign the servers' certificates",
    "remove tls.issuer for the local runtime (the fleet CA, or your own with tls.ca, signs them), or use --runtime kubernetes",
  );
}

/** The versions keys the local runtime runs a binary of, and that binary. */
const VERSIONED: {
  key: "thanos" | "prometheus" | "alertmanager" | "seaweedfs";
  binary: "thanos" | "prometheus" | "alertmanager" | "weed";
}[] = [
  { key: "thanos", binary: "thanos" },
  { key: "prometheus", binary: "prometheus" },
  { key: "alertmanager", binary: "alertmanager" },
  { key: "seaweedfs", binary: "weed" },
];

/**
 * The local runtime runs the pinned builds: a versions key set to another release would be ignored, so it is refused
 * unless `binaries:` names a build of the user's own for it. A configured binary must be an executable file.
 */
export function checkLocalConfig(topology: Topology): void {
  checkLocalStorage(topology);
  checkLocalIssuer(topology);
  const { versions, binaries } = topology.fleet;
  for (const { key, binary } of VERSIONED) {
    if (versions[key] === PINNED[key] || binaries[binary] !== undefined) continue;
    throw topologyError(
      topology,
      ["versions", key],
      `${versions[key]}: the local runtime runs ${binary} ${CATALOG[binary].version}, the pinned build, not another release`,
      `remove versions.${key} (or set it to ${PINNED[key]}), or set binaries.${binary} to a ${binary} of release ${versions[key]}`,
    );
  }
  for (const [name, path] of Object.entries(binaries)) {
    if (path === undefined) continue;
    const resolved = fleetPath(topology, path);
    if (isExecutableFile(resolved)) continue;
    throw topologyError(
      topology,
      ["binaries", name],
      `${resolved}${resolved === path ? "" : ` (${path}, relative to fleet.yaml's directory)`} is not an executable file`,
      `point binaries.${name} at the ${name} program, or remove it to use the pinned build`,
    );
  }
}

/** The path `binaries:` gives for a program, relative paths taken from fleet.yaml's directory. */
export function configuredBinary(topology: Topology, name: LocalBinary): string | undefined {
  const path = topology.fleet.binaries[name];
  return path === undefined ? undefined : fleetPath(topology, path);
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
