// The images the fleet runs on kind, named exactly as the rendered manifests and kube-prometheus-stack's values
// name them: each the static binary, the CA bundle and the official image's ENTRYPOINT, USER and WORKDIR.

import { join } from "node:path";
import { binCacheDir } from "../../src/binaries/cache.ts";
import { BUILDS, binaryPath } from "./gobuild.ts";
import { baseFiles, type ImageFile, type ImageSpec } from "./image.ts";

/** Built by `npm run binaries` (and the SeaweedFS build), not here: a missing one is named with that command. */
export const PREBUILT = {
  thanos: { name: "thanos", version: "v0.42.4" },
  alertmanager: { name: "alertmanager", version: "v0.34.2" },
  weed: { name: "weed", version: "4.53" },
} as const;

export function prebuiltPath(b: { name: string; version: string }): string {
  return join(binCacheDir(), `${b.name}-${b.version}`, b.name);
}

/** SeaweedFS's image as the fleet pins it (versions.seaweedfsImage). */
export const SEAWEEDFS_IMAGE = `chrislusf/seaweedfs:${PREBUILT.weed.version}`;

function binaryImage(ref: string, path: string, from: string, extra: Partial<ImageSpec> = {}): ImageSpec {
  return {
    ref,
    files: [...baseFiles(), { path, from, mode: 0o755 }],
    entrypoint: [path],
    user: "nobody",
    ...extra,
  };
}

/**
 * A test fixture's image, not one the fleet runs: cert-manager v1.21.2's controllers for a CA issuer
 * (tools/cert-manager), under a name of ours, since it is not upstream's image (quay.io/jetstack/cert-manager-controller),
 * which holds every issuer and is not available offline. testing/cert-manager/manifests.ts deploys it.
 */
export const CERT_MANAGER_IMAGE = `thanos-fleet.local/cert-manager-controller:${BUILDS.certManager.version}`;

export function certManagerImage(): ImageSpec {
  const path = "/bin/cert-manager-controller";
  // Numeric, so that the kubelet can check the Deployment's runAsNonRoot.
  return binaryImage(CERT_MANAGER_IMAGE, path, binaryPath(BUILDS.certManager, "cert-manager-controller"), {
    user: "65534",
  });
}

/** `shell`: busybox's files, for the images whose official build has a shell the fleet's Jobs run. */
export function fleetImages(shell: ImageFile[]): ImageSpec[] {
  return [
    binaryImage("quay.io/thanos/thanos:v0.42.4", "/bin/thanos", prebuiltPath(PREBUILT.thanos), {
      user: "1001",
    }),
    binaryImage(
      "quay.io/prometheus/prometheus:v3.14.0",
      "/bin/prometheus",
      binaryPath(BUILDS.prometheusK8s, "prometheus"),
      {
        workdir: "/prometheus",
        cmd: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
      },
    ),
    binaryImage(
      "quay.io/prometheus/alertmanager:v0.34.2",
      "/bin/alertmanager",
      prebuiltPath(PREBUILT.alertmanager),
      {
        workdir: "/alertmanager",
        cmd: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
      },
    ),
    binaryImage(
      "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
      "/bin/operator",
      binaryPath(BUILDS.operator, "operator"),
      { user: "65534" },
    ),
    binaryImage(
      "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
      "/bin/prometheus-config-reloader",
      binaryPath(BUILDS.operator, "prometheus-config-reloader"),
    ),
    binaryImage(
      "quay.io/prometheus/node-exporter:v1.12.1-distroless",
      "/bin/node_exporter",
      binaryPath(BUILDS.nodeExporter, "node_exporter"),
      { user: "65532" }, // distroless's nonroot
    ),
    // Upstream's entrypoint script passes arguments that start with a global flag to weed unchanged, as the
    // fleet's do; here weed is the entrypoint itself. Upstream runs as root, on Alpine: the bucket setup Job
    // runs its script with /bin/sh, so the image carries busybox as upstream's carries Alpine's.
    binaryImage(SEAWEEDFS_IMAGE, "/usr/bin/weed", prebuiltPath(PREBUILT.weed), {
      user: undefined,
      files: [
        ...baseFiles(),
        ...shell,
        { path: "/usr/bin/weed", from: prebuiltPath(PREBUILT.weed), mode: 0o755 },
      ],
    }),
  ];
}
