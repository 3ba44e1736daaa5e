// Prepares the storage cluster's MinIO for Thanos: the bucket and Thanos's bucket-scoped key, through the
// fleet-minio helper (MinIO's admin API encrypts request bodies, which only its Go client speaks).
import { execFile } from "node:child_process";
import type { ObjectStoreAccess } from "../../components/context.ts";
import type { Credentials } from "../../state/credentials.ts";

export interface BucketSetup {
  /** host:port of MinIO as the other clusters reach it. */
  endpoint: string;
  objectStore: ObjectStoreAccess;
  root: Credentials["minioRoot"];
}

/** Runs fleet-minio; resolves to its report lines, or rejects naming the step that failed with its output. */
export function prepareBucket(helper: string, setup: BucketSetup, signal: AbortSignal): Promise<string[]> {
  const args = [
    "--endpoint",
    setup.endpoint,
    "--bucket",
    setup.objectStore.bucket,
    "--user",
    setup.objectStore.accessKey,
  ];
  // Secrets go through the environment: arguments are readable by every local user in /proc.
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    MINIO_ROOT_USER: setup.root.user,
    MINIO_ROOT_PASSWORD: setup.root.password,
    FLEET_USER_SECRET_KEY: setup.objectStore.secretKey,
  };
  return new Promise((resolve, reject) => {
    execFile(helper, args, { env, timeout: 60_000, signal }, (error, stdout, stderr) => {
      if (error) {
        const output = `${stdout}${stderr}`
          .trim()
          .split("\n")
          .map((l) => `    ${l}`)
          .join("\n");
        reject(
          new Error(
            `preparing bucket ${setup.objectStore.bucket} on MinIO at ${setup.endpoint} with ${helper} failed:\n${output}`,
            { cause: error },
          ),
        );
      } else {
        resolve(stdout.trim().split("\n").filter(Boolean));
      }
    });
  });
}
