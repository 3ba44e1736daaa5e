// The objects a kind cluster gets to run cert-manager's CA-issuer controllers: upstream's CRDs from the module
// cache, the runner's RBAC bound to its ServiceAccount, and a Deployment of the image kind:host builds, in-cluster.
// That these rules are enough is proven by testing/envtest/cert-manager_test.ts, which runs the controllers as
// this ServiceAccount.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { certManagerImage } from "../../scripts/kind-host/fleetimages.ts";
import { BUILDS, binaryPath } from "../../scripts/kind-host/gobuild.ts";
import {
  CERT_MANAGER_IMAGE,
  CONTROLLER_NAME,
  certManagerDeployment,
  certManagerManifests,
} from "./manifests.ts";

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; storage: boolean }[];
  };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: { runAsNonRoot?: boolean };
  containers: { image: string; args: string[]; securityContext: Record<string, unknown> }[];
}

describe("cert-manager manifests for a test cluster", () => {
  test("CRDs, then the namespace, the RBAC and the Deployment, all in the namespace asked for", async () => {
    const objs = await certManagerManifests({ namespace: "certs" });
    assert.deepEqual(
      objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`),
      [
        "CustomResourceDefinition//certificaterequests.cert-manager.io",
        "CustomResourceDefinition//certificates.cert-manager.io",
        "CustomResourceDefinition//clusterissuers.cert-manager.io",
        "CustomResourceDefinition//issuers.cert-manager.io",
        "Namespace//certs",
        `ServiceAccount/certs/${CONTROLLER_NAME}`,
        `ClusterRole//${CONTROLLER_NAME}`,
        `ClusterRoleBinding//${CONTROLLER_NAME}`,
        `Deployment/certs/${CONTROLLER_NAME}`,
      ],
    );
    // Upstream's CRDs as they are: v1 served and stored.
    for (const crd of objs.slice(0, 4) as unknown as Crd[]) {
      assert.equal(crd.spec.group, "cert-manager.io");
      assert.deepEqual(
        crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
        [["v1", true, true]],
      );
    }
    const binding = objs.find((o) => o.kind === "ClusterRoleBinding") as unknown as {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: CONTROLLER_NAME,
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: "certs" },
    ]);
  });

  test("the Deployment runs the image kind:host builds, in-cluster, as its ServiceAccount, locked down", () => {
    const dep = certManagerDeployment({
      namespace: "certs",
      clusterResourceNamespace: "fleet-ca",
    }) as unknown as {
      spec: { replicas: number; template: { spec: PodSpec } };
    };
    const pod = dep.spec.template.spec;
    const [c, ...more] = pod.containers;
    assert.ok(c);
    assert.equal(more.length, 0);
    assert.equal(dep.spec.replicas, 1, "one replica: leader election is off");
    assert.equal(pod.serviceAccountName, CONTROLLER_NAME);
    assert.equal(c.image, CERT_MANAGER_IMAGE);
    assert.ok(c.args.includes("--cluster-resource-namespace=fleet-ca"));
    assert.ok(!c.args.some((a) => a.startsWith("--kubeconfig")), "in-cluster credentials");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    // ClusterIssuers' CA Secrets default to the runner's own namespace.
    const plain = certManagerDeployment({ namespace: "certs" }) as unknown as typeof dep;
    assert.ok(plain.spec.template.spec.containers[0]?.args.includes("--cluster-resource-namespace=certs"));
  });

  test("the image is ours by name, holds the runner built by gobuild, and runs as a numeric non-root user", () => {
    const img = certManagerImage();
    assert.equal(img.ref, CERT_MANAGER_IMAGE);
    assert.match(img.ref, /^thanos-fleet\.local\/cert-manager-controller:v1\.21\.2$/);
    const entry = img.entrypoint?.[0];
    assert.ok(entry);
    assert.deepEqual(
      img.files.find((f) => f.path === entry),
      { path: entry, from: binaryPath(BUILDS.certManager, "cert-manager-controller"), mode: 0o755 },
    );
    // The kubelet can only check runAsNonRoot against a numeric USER.
    assert.match(img.user ?? "", /^[1-9][0-9]*$/);
  });
});
