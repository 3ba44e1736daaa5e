// The storage cluster's one-shot setup: the bucket, a policy allowing only that bucket, and Thanos's own key under it.
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { Addresses } from "../components/context.ts";
import { MINIO_API_PORT, MINIO_WORKLOAD } from "../components/minio.ts";
import { SCOPE_CHECK_BUCKET } from "../components/objstore.ts";
import type { PodSpec } from "../components/types.ts";
import type { Credentials } from "../state/credentials.ts";
import { S3_CA_SECRET } from "./addresses.ts";
import type { KubeObject } from "./types.ts";
import { credentialSecretName, metadata, secret } from "./workloads.ts";

export const SETUP_JOB = "minio-setup";
export const THANOS_KEY_SECRET = "thanos-bucket-key";

/** Read, write and delete objects of one bucket: what Thanos (compactor included) needs, and nothing else. */
export function bucketPolicy(bucket: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        Resource: [`arn:aws:s3:::${bucket}`],
      },
      {
        Effect: "Allow",
        Action: [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
}

/**
 * Idempotent: a second run finds the bucket, replaces the policy with the same one and resets the same key.
 * Credentials reach mc on stdin, never as arguments: no process list shows them, and no parser can take one that
 * starts with "-" for a flag. Only sh, sleep and mc are used: the MinIO image (ubi-micro) has no grep.
 */
export const SETUP_SCRIPT = `set -eu
# With the fleet CA mounted, mc trusts MinIO's certificate through it ($HOME is the Job's own emptyDir).
if [ -f /s3-ca/ca.crt ]; then mkdir -p "$HOME/.mc/certs/CAs" && cp /s3-ca/ca.crt "$HOME/.mc/certs/CAs/fleet-ca.crt"; fi
tries=0
until printf '%s\\n%s\\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" | mc alias set fleet "$MINIO_URL" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 90 ]; then echo "MinIO at $MINIO_URL did not accept the root credentials within 3 minutes" >&2; exit 1; fi
  sleep 2
done
mc mb --ignore-existing "fleet/$BUCKET"
mc mb --ignore-existing "fleet/$SCOPE_CHECK_BUCKET"
mc admin policy create fleet "$POLICY" /setup/policy.json
printf '%s\\n%s\\n' "$THANOS_ACCESS_KEY" "$THANOS_SECRET_KEY" | mc admin user add fleet >/dev/null
if ! mc admin policy attach fleet "$POLICY" --user="$THANOS_ACCESS_KEY" >/dev/null 2>&1; then
  case "$(mc admin user info fleet "$THANOS_ACCESS_KEY" 2>/dev/null)" in
    *"$POLICY"*) ;;
    *) echo "cannot attach policy $POLICY to the Thanos key" >&2; exit 1 ;;
  esac
fi
echo "bucket $BUCKET is ready; the Thanos key may use only this bucket"
`;

export function setupObjects(
  minio: PodSpec,
  addresses: Addresses,
  bucket: string,
  creds: Credentials,
  /** MinIO serves HTTPS with a certificate from the fleet CA (the CA's ConfigMap is in the cluster). */
  tls = false,
): { secrets: KubeObject[]; manifests: KubeObject[] } {
  const image = minio.containers[0]?.image;
  if (!image) throw new Error(`${minio.cluster}/${minio.name} has no container`);
  const policy = `thanos-fleet-${bucket}`;
  const config: IConfigMap & KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(SETUP_JOB),
    data: { "setup.sh": SETUP_SCRIPT, "policy.json": `${JSON.stringify(bucketPolicy(bucket), null, 2)}\n` },
  };
  const fromSecret = (name: string, secretName: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key } },
  });
  const job: IJob & KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: metadata(SETUP_JOB, { "app.kubernetes.io/name": SETUP_JOB }),
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: { "app.kubernetes.io/name": SETUP_JOB } },
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
              // The MinIO image carries the mc client.
              image,
              imagePullPolicy: "IfNotPresent",
              command: ["/bin/sh", "/setup/setup.sh"],
              env: [
                { name: "HOME", value: "/tmp" },
                {
                  name: "MINIO_URL",
                  value: `${tls ? "https" : "http"}://${addresses.service(minio.cluster, MINIO_WORKLOAD, MINIO_API_PORT)}`,
                },
                { name: "BUCKET", value: bucket },
                { name: "SCOPE_CHECK_BUCKET", value: SCOPE_CHECK_BUCKET },
                { name: "POLICY", value: policy },
                fromSecret("MINIO_ROOT_USER", credentialSecretName(minio), "MINIO_ROOT_USER"),
                fromSecret("MINIO_ROOT_PASSWORD", credentialSecretName(minio), "MINIO_ROOT_PASSWORD"),
                fromSecret("THANOS_ACCESS_KEY", THANOS_KEY_SECRET, "access-key"),
                fromSecret("THANOS_SECRET_KEY", THANOS_KEY_SECRET, "secret-key"),
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
                ...(tls ? [{ name: "s3-ca", mountPath: "/s3-ca", readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: "setup", configMap: { name: SETUP_JOB } },
            { name: "tmp", emptyDir: {} },
            ...(tls ? [{ name: "s3-ca", secret: { secretName: S3_CA_SECRET } }] : []),
          ],
        },
      },
    },
  };
  return {
    secrets: [
      secret(THANOS_KEY_SECRET, {
        "access-key": creds.thanos.accessKey,
        "secret-key": creds.thanos.secretKey,
      }),
    ],
    manifests: [config, job],
  };
}
