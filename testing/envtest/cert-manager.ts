// cert-manager issuing for real against a test control plane: upstream's CRDs applied and established, then
// upstream's controllers for a CA issuer (tools/cert-manager's runner) started as the ServiceAccount that
// testing/cert-manager/manifests.ts grants their rules to, so a rule the controllers lack fails here as on kind.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { BUILDS, binaryPath } from "../../scripts/kind-host/gobuild.ts";
import { isExecutableFile } from "../../src/binaries/cache.ts";
import type { KubeObject } from "../../src/render/types.ts";
import { loadKubeConfig } from "../../src/runtimes/kube/api.ts";
import { stringify } from "../../src/yaml.ts";
import { CONTROLLER_NAME, certManagerCrds, certManagerRbac } from "../cert-manager/manifests.ts";
import type { ControlPlane } from "./controlplane.ts";
import { type ManagedProcess, startProcess } from "./process.ts";

export const CERT_MANAGER_CONTROLLER = binaryPath(BUILDS.certManager, "cert-manager-controller");

/** The controllers the runner starts (tools/cert-manager/main.go), each of which logs "starting controller". */
export const CERT_MANAGER_CONTROLLERS = [
  "issuers",
  "clusterissuers",
  "certificaterequests-approver",
  "certificaterequests-issuer-ca",
  "certificates-trigger",
  "certificates-issuing",
  "certificates-key-manager",
  "certificates-request-manager",
  "certificates-readiness",
  "certificates-revision-manager",
] as const;

/** Why the cert-manager envtests cannot run here (the runner not built yet), or false when they can. */
export function certManagerSkip(): string | false {
  return isExecutableFile(CERT_MANAGER_CONTROLLER)
    ? false
    : `not built: ${CERT_MANAGER_CONTROLLER}; run npm run kind:host -- --build certManager (a Go build of some minutes)`;
}

export interface CertManager {
  process: ManagedProcess;
  /** The namespace of the runner's ServiceAccount, and where ClusterIssuers' CA Secrets live. */
  namespace: string;
  stop(): Promise<void>;
}

export interface CertManagerStartOptions {
  /** Default "cert-manager". */
  namespace?: string;
  /** How long to wait for the CRDs and the controllers; default 120 s (a loaded machine). */
  timeoutMs?: number;
}

type Apply = (obj: KubeObject) => Promise<unknown>;

/** Polls `probe` until it returns true or `timeoutMs` passes; the error names `what` and the last answer. */
async function waitFor(what: string, timeoutMs: number, probe: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const r = await probe();
      if (r === true) return;
      last = r;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(250);
  }
}

/**
 * Applies cert-manager's CRDs, the namespace and the runner's RBAC to `cp`, then starts the runner with a token of
 * its ServiceAccount and waits until every controller has started. `apply` is server-side apply against `cp` as
 * its admin; `get` reads an object as the admin.
 */
export async function startCertManager(
  cp: ControlPlane,
  api: {
    serverSideApply: Apply;
    get(ref: { apiVersion: string; kind: string; name: string }): Promise<unknown>;
  },
  opts: CertManagerStartOptions = {},
): Promise<CertManager> {
  const namespace = opts.namespace ?? "cert-manager";
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const crds = await certManagerCrds();
  for (const crd of crds) await api.serverSideApply(crd);
  for (const crd of crds) {
    const name = crd.metadata.name;
    await waitFor(`CRD ${name} established`, timeoutMs, async () => {
      const got = (await api.get({ apiVersion: crd.apiVersion, kind: crd.kind, name })) as
        | { status?: { conditions?: { type: string; status: string }[] } }
        | undefined;
      const established = got?.status?.conditions?.find((c) => c.type === "Established");
      return established?.status === "True" || `Established=${established?.status ?? "absent"}`;
    });
  }
  await api.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  for (const obj of certManagerRbac(namespace)) await api.serverSideApply(obj);

  const kubeconfigPath = join(cp.dir, "cert-manager.kubeconfig");
  await writeFile(kubeconfigPath, await serviceAccountKubeconfig(cp, namespace, CONTROLLER_NAME), {
    mode: 0o600,
  });
  const proc = await startProcess({
    name: "cert-manager-controller",
    command: CERT_MANAGER_CONTROLLER,
    logFile: join(cp.dir, "cert-manager-controller.log"),
    cwd: cp.dir,
    args: [`--kubeconfig=${kubeconfigPath}`, `--cluster-resource-namespace=${namespace}`, "--v=2"],
  });
  try {
    await waitFor("cert-manager controllers started", timeoutMs, async () => {
      if (proc.hasExited()) throw new Error(`cert-manager-controller ${await proc.exited}`);
      const started = (await proc.tail(1000))
        .split("\n")
        .filter((line) => line.includes('"starting controller"'));
      const missing = CERT_MANAGER_CONTROLLERS.filter(
        (c) => !started.some((l) => l.includes(`controller="${c}"`)),
      );
      return missing.length === 0 || `not started: ${missing.join(", ")}`;
    });
  } catch (err) {
    await proc.stop();
    throw new Error(
      `${(err as Error).message}\n--- last lines of ${proc.logFile} ---\n${await proc.tail(40)}`,
      {
        cause: err,
      },
    );
  }
  return { process: proc, namespace, stop: () => proc.stop() };
}

/** A kubeconfig for `cp` that authenticates with a fresh token of ServiceAccount `namespace/name`. */
async function serviceAccountKubeconfig(cp: ControlPlane, namespace: string, name: string): Promise<string> {
  const core = loadKubeConfig({ kubeconfig: cp.kubeconfigPath, context: cp.context }).makeApiClient(
    CoreV1Api,
  );
  const answer = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  const user = `${namespace}:${name}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": user,
    clusters: [
      {
        name: cp.context,
        cluster: {
          server: cp.server,
          "certificate-authority-data": Buffer.from(cp.entry.ca).toString("base64"),
        },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: cp.context, user } }],
  });
}
