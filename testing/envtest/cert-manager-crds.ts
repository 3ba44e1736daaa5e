// Test-only: cert-manager's own CustomResourceDefinitions (Apache-2.0), read at test time from its Go module in the
// module cache (`go mod download`), never copied into this repository.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../../src/render/types.ts";

export const CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager@v1.21.2";

/** The cert-manager.io CRDs (Certificate, CertificateRequest, Issuer, ClusterIssuer), or why they cannot be had. */
export async function certManagerCrds(): Promise<{ crds: KubeObject[] } | { skip: string }> {
  let dir: string;
  try {
    const { stdout } = await promisify(execFile)("go", ["mod", "download", "-json", CERT_MANAGER_MODULE], {
      cwd: "/",
      timeout: 120_000,
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    });
    const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
    if (!info.Dir) return { skip: `go mod download ${CERT_MANAGER_MODULE}: ${info.Error ?? "no Dir"}` };
    dir = info.Dir;
  } catch (error) {
    return {
      skip: `go mod download ${CERT_MANAGER_MODULE} failed: ${(error as Error).message.split("\n")[0]}`,
    };
  }
  const files = ["certificates", "certificaterequests", "issuers", "clusterissuers"].map((n) =>
    join(dir, "deploy", "crds", `cert-manager.io_${n}.yaml`),
  );
  const crds: KubeObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(f, "utf8"))) {
      const obj = doc.toJSON() as KubeObject | null;
      if (obj?.kind === "CustomResourceDefinition") crds.push(obj);
    }
  }
  return { crds };
}
