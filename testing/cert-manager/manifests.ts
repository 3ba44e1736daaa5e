// cert-manager in a test cluster: upstream's CRDs, read from the Go module cache, and the runner of upstream's
// controllers for a CA issuer (tools/cert-manager), with the rules those controllers use and a Deployment of its
// image, which stands in for upstream's controller image (not available offline).

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CERT_MANAGER_IMAGE } from "../../scripts/kind-host/fleetimages.ts";
import { BUILDS } from "../../scripts/kind-host/gobuild.ts";
import { run } from "../../scripts/kind-host/run.ts";
import { TOOLS_DIR } from "../../src/binaries/catalog.ts";
import type { KubeObject } from "../../src/render/types.ts";

export const CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager";
export const CERT_MANAGER_VERSION = BUILDS.certManager.version;
export { CERT_MANAGER_IMAGE };

/**
 * The CRDs the runner's controllers watch. Upstream also ships acme.cert-manager.io's Orders and Challenges; the
 * runner has no ACME controller, and none of its controllers reads them.
 */
export const CERT_MANAGER_CRD_FILES = [
  "cert-manager.io_certificaterequests.yaml",
  "cert-manager.io_certificates.yaml",
  "cert-manager.io_clusterissuers.yaml",
  "cert-manager.io_issuers.yaml",
] as const;

/** The module's directory in the Go module cache, downloaded (and checked against tools/cert-manager's go.sum) if absent. */
export async function certManagerModuleDir(): Promise<string> {
  const mod = `${CERT_MANAGER_MODULE}@${CERT_MANAGER_VERSION}`;
  let out: string;
  try {
    out = await run("go", ["mod", "download", "-json", mod], { cwd: join(TOOLS_DIR, "cert-manager") });
  } catch (cause) {
    throw new Error(
      `${mod} is not in the Go module cache and cannot be downloaded: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const { Dir, Error: failed } = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!Dir) throw new Error(`go mod download ${mod} gave no directory${failed ? `: ${failed}` : ""}`);
  return Dir;
}

/** Upstream's CRDs (deploy/crds), as they are. */
export async function certManagerCrds(moduleDir?: string): Promise<KubeObject[]> {
  const dir = join(moduleDir ?? (await certManagerModuleDir()), "deploy", "crds");
  const present = new Set(await readdir(dir));
  const crds: KubeObject[] = [];
  for (const file of CERT_MANAGER_CRD_FILES) {
    if (!present.has(file)) throw new Error(`${join(dir, file)} is missing from the cert-manager module`);
    for (const doc of parseAllDocuments(await readFile(join(dir, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, file)}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj) crds.push(obj);
    }
  }
  return crds;
}

export interface CertManagerOptions {
  /** Where the ServiceAccount and Deployment live; default "cert-manager". */
  namespace?: string;
  /** Where the CA Secrets of ClusterIssuers live; default the runner's own namespace, as upstream's chart sets it. */
  clusterResourceNamespace?: string;
}

export const CONTROLLER_NAME = "cert-manager-controller";
const LABELS = {
  "app.kubernetes.io/name": CONTROLLER_NAME,
  "app.kubernetes.io/part-of": "thanos-fleet-tests",
};

const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]) => ({
  apiGroups,
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
});

/**
 * What the runner's controllers do, as upstream's chart grants it to the controllers they are (its roles
 * controller-issuers, -clusterissuers, -certificates and -approve:cert-manager-io; the create and delete of
 * CertificateRequests, which the chart grants through the ingress-shim role, the request and revision managers
 * need): no ACME, ingress, Gateway or leader-election rules, since the runner runs none of those.
 */
export function certManagerClusterRole(): KubeObject {
  const cm = ["cert-manager.io"];
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: CONTROLLER_NAME, labels: LABELS },
    rules: [
      rule(
        cm,
        ["issuers", "clusterissuers", "certificates", "certificaterequests"],
        ["get", "list", "watch"],
      ),
      rule(
        cm,
        ["issuers/status", "clusterissuers/status", "certificates/status", "certificaterequests/status"],
        ["update", "patch"],
      ),
      rule(cm, ["issuers", "clusterissuers", "certificates"], ["update", "patch"]),
      rule(cm, ["certificaterequests"], ["create", "update", "patch", "delete"]),
      // For clusters that enforce OwnerReferencesPermissionEnforcement: the Secret and CertificateRequests a
      // Certificate owns.
      rule(cm, ["certificates/finalizers", "certificaterequests/finalizers"], ["update"]),
      rule(cm, ["signers"], ["approve"], ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"]),
      rule([""], ["secrets"], ["get", "list", "watch", "create", "update", "patch", "delete"]),
      rule([""], ["events"], ["create", "patch"]),
    ],
  };
}

/** The ServiceAccount, the ClusterRole and its binding. */
export function certManagerRbac(namespace = "cert-manager"): KubeObject[] {
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: CONTROLLER_NAME, namespace, labels: LABELS },
    },
    certManagerClusterRole(),
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: CONTROLLER_NAME, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONTROLLER_NAME },
      subjects: [{ kind: "ServiceAccount", name: CONTROLLER_NAME, namespace }],
    },
  ];
}

/** One replica of the runner image, in-cluster credentials, locked down as upstream's chart runs its controller. */
export function certManagerDeployment(opts: CertManagerOptions = {}): KubeObject {
  const namespace = opts.namespace ?? "cert-manager";
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: CONTROLLER_NAME, namespace, labels: LABELS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": CONTROLLER_NAME } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: CONTROLLER_NAME,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "controller",
              image: CERT_MANAGER_IMAGE,
              imagePullPolicy: "IfNotPresent",
              args: [`--cluster-resource-namespace=${opts.clusterResourceNamespace ?? namespace}`, "--v=2"],
              resources: { requests: { cpu: "10m", memory: "64Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
}

/** Everything, in the order to apply it: the CRDs, the namespace, the RBAC, the Deployment. */
export async function certManagerManifests(
  opts: CertManagerOptions & { moduleDir?: string } = {},
): Promise<KubeObject[]> {
  const namespace = opts.namespace ?? "cert-manager";
  return [
    ...(await certManagerCrds(opts.moduleDir)),
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: LABELS } },
    ...certManagerRbac(namespace),
    certManagerDeployment(opts),
  ];
}
