// The storage cluster's one-shot setup on SeaweedFS: the fleet's bucket and the scope-check bucket, made with
// `weed shell` from SeaweedFS's own image. The identities (an admin, and Thanos's allowed only its bucket) need no
// step: SeaweedFS reads them from its config file, a Secret.
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { Addresses, S3Tls } from "../components/context.ts";
import { SCOPE_CHECK_BUCKET } from "../components/objstore.ts";
import {
  SEAWEEDFS_MASTER_PORT,
  SEAWEEDFS_TLS_FILES,
  SEAWEEDFS_WORKLOAD,
  seaweedfsTlsEnv,
} from "../components/seaweedfs.ts";
import type { PodSpec } from "../components/types.ts";
import type { KubeObject } from "./types.ts";
import { metadata, secret } from "./workloads.ts";

export const SEAWEEDFS_SETUP_JOB = "seaweedfs-setup";

/** Idempotent: a bucket that exists already counts as made. Waits up to 3 minutes for the master and its filer. */
const SETUP_SCRIPT = `set -eu
create() {
  out=$(echo "s3.bucket.create -name $1" | weed shell -master="$MASTER" 2>&1) || true
  case "$out" in
    *"created bucket $1"*) echo "created bucket $1" ;;
    *"bucket $1 already exists"*) echo "bucket $1 exists" ;;
    *) echo "$out" >&2; return 1 ;;
  esac
}
for bucket in "$BUCKET" "$SCOPE_CHECK_BUCKET"; do
  tries=0
  until create "$bucket"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 90 ]; then echo "SeaweedFS at $MASTER did not create bucket $bucket within 3 minutes" >&2; exit 1; fi
    sleep 2
  done
done
echo "buckets $BUCKET and $SCOPE_CHECK_BUCKET are ready; the Thanos key may use only $BUCKET"
`;

/** With the fleet CA: SeaweedFS's own certificate, which `weed shell` presents to the master's and filer's gRPC. */
export const SEAWEEDFS_SETUP_TLS_SECRET = "seaweedfs-setup-tls";
const SETUP_TLS_MOUNT = "/tls";

export function seaweedfsSetupObjects(
  seaweedfs: PodSpec,
  addresses: Addresses,
  bucket: string,
  tls?: S3Tls,
): KubeObject[] {
  const image = seaweedfs.containers[0]?.image;
  if (!image) throw new Error(`${seaweedfs.cluster}/${seaweedfs.name} has no container`);
  const config: IConfigMap & KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(SEAWEEDFS_SETUP_JOB),
    data: { "setup.sh": SETUP_SCRIPT },
  };
  const job: IJob & KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: metadata(SEAWEEDFS_SETUP_JOB, { "app.kubernetes.io/name": SEAWEEDFS_SETUP_JOB }),
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: { "app.kubernetes.io/name": SEAWEEDFS_SETUP_JOB } },
        spec: {
          restartPolicy: "OnFailure",
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "setup",
              // SeaweedFS's image carries weed, whose shell creates buckets.
              image,
              imagePullPolicy: "IfNotPresent",
              command: ["/bin/sh", "/setup/setup.sh"],
              env: [
                { name: "HOME", value: "/tmp" },
                {
                  name: "MASTER",
                  value: addresses.service(seaweedfs.cluster, SEAWEEDFS_WORKLOAD, SEAWEEDFS_MASTER_PORT),
                },
                { name: "BUCKET", value: bucket },
                { name: "SCOPE_CHECK_BUCKET", value: SCOPE_CHECK_BUCKET },
                ...Object.entries(tls ? seaweedfsTlsEnv(SETUP_TLS_MOUNT) : {}).map(([name, value]) => ({
                  name,
                  value,
                })),
              ],
              resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [
                { name: "setup", mountPath: "/setup", readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                ...(tls ? [{ name: "tls", mountPath: SETUP_TLS_MOUNT, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: "setup", configMap: { name: SEAWEEDFS_SETUP_JOB } },
            { name: "tmp", emptyDir: {} },
            ...(tls ? [{ name: "tls", secret: { secretName: SEAWEEDFS_SETUP_TLS_SECRET } }] : []),
          ],
        },
      },
    },
  };
  return [config, job];
}

/** The Secret the setup Job mounts with the fleet CA (the Job's `weed shell` presents SeaweedFS's certificate). */
export function seaweedfsSetupSecret(tls: S3Tls): KubeObject {
  return secret(SEAWEEDFS_SETUP_TLS_SECRET, {
    [SEAWEEDFS_TLS_FILES.ca]: tls.ca,
    [SEAWEEDFS_TLS_FILES.cert]: tls.internalCert,
    [SEAWEEDFS_TLS_FILES.key]: tls.internalKey,
  });
}
