// A real Kubernetes API server for tests, envtest-style: etcd and kube-apiserver on loopback, no kubelet,
// no controllers, with a generated PKI and a kubeconfig; stop() leaves no process, port or file behind.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isExecutableFile } from "../../src/binaries/cache.ts";
import { binaryPath, resolveBinary } from "../../src/binaries/resolve.ts";
import { deadline } from "../../src/net/http.ts";
import { adminCredentials, generatePki } from "./certs.ts";
import { type KubeconfigEntry, writeKubeconfig } from "./kubeconfig.ts";
import { freePorts } from "./ports.ts";
import { type ManagedProcess, removeAtExit, startProcess } from "./process.ts";

export interface ControlPlaneOptions {
  /** Names the control plane in messages and in its temp dir; default "envtest". */
  name?: string;
  /** The kubeconfig context; default `name`. */
  context?: string;
  /** How long to wait for /readyz; default 120 s (a loaded 2-core machine needs a few tens of seconds). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, `--flag=value`. */
  apiserverArgs?: string[];
}

export interface ControlPlane {
  name: string;
  context: string;
  /** `https://127.0.0.1:<port>`. */
  server: string;
  /** A kubeconfig with this control plane's context alone (current context). */
  kubeconfigPath: string;
  /** What a kubeconfig needs to reach it, for one kubeconfig holding several control planes. */
  entry: KubeconfigEntry;
  etcdUrl: string;
  /** The temp dir holding certs, etcd data, logs and the kubeconfig; removed by stop(). */
  dir: string;
  ports: { apiserver: number; etcdClient: number; etcdPeer: number };
  processes: { etcd: ManagedProcess; apiserver: ManagedProcess };
  /** Stops kube-apiserver and etcd and removes the dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The address range Services get ClusterIPs from, as envtest sets it. */
export const SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24";
export const SERVICE_NODE_PORT_RANGE = "30000-32767";

export class ControlPlaneStartError extends Error {}

async function failure(what: string, proc: ManagedProcess | undefined, reason: string, cause?: unknown) {
  const tail = proc ? `\n--- last lines of ${proc.logFile} ---\n${await proc.tail(40)}` : "";
  return new ControlPlaneStartError(`${what}: ${reason}${tail}`, { cause });
}

/** GET over TLS with the admin client cert; resolves to the status code and body, or rejects. */
function adminGet(
  url: string,
  creds: { ca: string; cert: string; key: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...creds, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  const limit = deadline(5000);
  return fetch(url, { signal: limit.signal })
    .then(async (r) => ({ status: r.status, body: await r.text() }))
    .finally(limit.clear);
}

/** Polls `probe` until it returns true; fails early when `proc` exits, with the tail of its log. */
async function waitUntil(
  what: string,
  proc: ManagedProcess,
  timeoutMs: number,
  probe: () => Promise<{ ok: boolean; detail: string }>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    if (proc.hasExited())
      throw await failure(what, proc, `${proc.name} ${await proc.exited} before it was ready`);
    try {
      const r = await probe();
      if (r.ok) return;
      last = r.detail;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw await failure(what, proc, `${proc.name} not ready after ${timeoutMs / 1000} s (last: ${last})`);
    }
    await sleep(200);
  }
}

/**
 * Starts etcd, then kube-apiserver, and waits for /readyz. Ports are free when picked but not reserved: another
 * process may take one before the server binds it, so a start that fails with "address already in use" is retried.
 */
export function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return retryOnPortClash(() => startOnce(opts));
}

/** Runs `start` up to `attempts` times while it fails with "address already in use". */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const name = opts.name ?? "envtest";
  const context = opts.context ?? name;
  const what = `test control plane "${name}"`;
  const [etcdBin, apiserverBin] = await Promise.all([resolveBinary("etcd"), resolveBinary("kube-apiserver")]);
  const dir = await mkdtemp(join(tmpdir(), `thanos-fleet-envtest-${name.replace(/[^a-zA-Z0-9-]/g, "_")}-`));
  const forget = removeAtExit(dir);
  let etcd: ManagedProcess | undefined;
  let apiserver: ManagedProcess | undefined;
  const cleanup = async (): Promise<void> => {
    await apiserver?.stop();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
    forget();
  };
  try {
    await mkdir(join(dir, "pki"));
    const pki = await generatePki(join(dir, "pki"));
    const creds = await adminCredentials(pki);
    const [apiPort, clientPort, peerPort] = (await freePorts(3)) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    etcd = await startProcess({
      name: "etcd",
      command: etcdBin,
      logFile: join(dir, "etcd.log"),
      cwd: dir,
      args: [
        "--name=envtest",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=envtest=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
    });
    await waitUntil(what, etcd, opts.readyTimeoutMs ?? 120_000, async () => {
      const r = await httpGet(`${etcdUrl}/health`);
      return { ok: r.status === 200 && /"health":\s*"true"/.test(r.body), detail: `${r.status} ${r.body}` };
    });

    apiserver = await startProcess({
      name: "kube-apiserver",
      command: apiserverBin,
      logFile: join(dir, "kube-apiserver.log"),
      cwd: dir,
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--secure-port=${apiPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        `--service-node-port-range=${SERVICE_NODE_PORT_RANGE}`,
        `--service-account-issuer=${server}/`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--authorization-mode=RBAC",
        // No controller-manager creates the default ServiceAccount; envtest disables the plugin for that.
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        ...(opts.apiserverArgs ?? []),
      ],
    });
    await waitUntil(what, apiserver, opts.readyTimeoutMs ?? 120_000, async () => {
      const r = await adminGet(`${server}/readyz`, creds);
      return {
        ok: r.status === 200,
        detail: `${r.status} ${r.body
          .split("\n")
          .filter((l) => l.includes("[-]"))
          .join(", ")}`,
      };
    });

    const entry: KubeconfigEntry = { context, server, ...creds };
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeKubeconfig(kubeconfigPath, [entry]);
    const processes = { etcd, apiserver };
    let stopped: Promise<void> | undefined;
    return {
      name,
      context,
      server,
      kubeconfigPath,
      entry,
      etcdUrl,
      dir,
      ports: { apiserver: apiPort, etcdClient: clientPort, etcdPeer: peerPort },
      processes,
      stop: () => {
        stopped ??= cleanup();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err instanceof ControlPlaneStartError
      ? err
      : new ControlPlaneStartError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** Several control planes, one per simulated cluster, started side by side, plus one kubeconfig for them all. */
export async function startControlPlanes(
  contexts: readonly string[],
  opts: Omit<ControlPlaneOptions, "name" | "context"> = {},
): Promise<{ planes: ControlPlane[]; kubeconfigPath: string; dir: string; stop(): Promise<void> }> {
  const results = await Promise.allSettled(
    contexts.map((c) => startControlPlane({ ...opts, name: c, context: c })),
  );
  const planes = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const stopAll = async (): Promise<void> => {
    await Promise.all(planes.map((p) => p.stop()));
  };
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-envtest-kubeconfig-"));
  const forget = removeAtExit(dir);
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeKubeconfig(
    kubeconfigPath,
    planes.map((p) => p.entry),
  );
  return {
    planes,
    kubeconfigPath,
    dir,
    async stop() {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** Why envtest tests cannot run here (etcd or kube-apiserver not built yet), or false when they can. */
export function envtestSkip(): string | false {
  const missing = (["etcd", "kube-apiserver"] as const).filter((n) => !isExecutableFile(binaryPath(n)));
  return missing.length > 0
    ? `not built: ${missing.join(", ")}; run npm run binaries -- etcd kube-apiserver`
    : false;
}
