// The versions thanos-fleet pins: one Thanos everywhere, sidecar included.

export const PINNED = {
  thanos: "v0.42.4",
  thanosImage: "quay.io/thanos/thanos",
  prometheus: "v3.14.0",
  alertmanager: "v0.34.2",
  kubePrometheusStack: "88.5.3",
  kind: "v0.32.0",
  kindNodeImage: "kindest/node:v1.36.0",
  minio: "RELEASE.2025-10-15T17-29-55Z",
  minioImage: "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
} as const;
