// The versions thanos-fleet pins: one Thanos everywhere, sidecar included.

export const PINNED = {
  thanos: "v0.42.4",
  thanosImage: "quay.io/thanos/thanos",
  prometheus: "v3.14.0",
  alertmanager: "v0.34.2",
  kubePrometheusStack: "88.5.3",
  kind: "v0.32.0",
  /** kind v0.32.0's default node image, as its release notes give it: Kubernetes v1.36.1, pinned by digest. */
  kindNodeImage:
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
  /** SeaweedFS, the default storage server: the release its pinned source reports (`weed version`), image by that tag. */
  seaweedfs: "4.53",
  seaweedfsImage: "chrislusf/seaweedfs:4.53",
  /**
   * MinIO (server: minio, Kubernetes only): the image quay.io/minio/minio:<this>. The last release that has an image;
   * later ones (RELEASE.2025-10-15T17-29-55Z) are source only.
   */
  minio: "RELEASE.2025-09-07T16-13-09Z",
  minioImage: "quay.io/minio/minio",
} as const;
