// The guide's own path for real, on kind, offline: `npm run e2e:kind`. Needs what `npm run kind:host` prepares
// (Docker, kind, helm, kubectl, the kind node image and every fleet image in the local Docker) and the
// kube-prometheus-stack chart assembled with its dependencies (E2E_KPS_CHART, a directory or .tgz).
//
// Four runs, each: `up` (four kind clusters, images loaded, storage, Helm ×2, mgmt), `verify --wait` all green
// (blocks shipped and served by the store gateway: the test fleet cuts 2-minute blocks), a cross-cluster
// deduplicated query through query-frontend from the host, the compactor's metrics in the global view, a second `up`
// that changes nothing, and `down` leaving no container or network it created.
//   default   the default four-cluster fleet
//   plaintext the same with TLS off (tls: { grpc: false, http: false, s3: false }): the guide's plaintext layout;
//             verify leaves exposure and storage-doors out to go green, then proves it names the plain S3
//   existing  clusters created beforehand and named by `context:` (the existing-clusters mode)
//   receive   biz1 on sidecars, biz2 on receive (mode: receive): biz2's Prometheus pair remote-writes to mgmt's
//             routers and runs no sidecar; verify's receive check green too, and biz2's series through
//             query-frontend one per series with deduplication (2 replicas × 3 ingester copies without)
//   cert-manager  existing contexts, each with cert-manager's controllers (tools/cert-manager's runner) and a CA
//             ClusterIssuer backed by one CA in every cluster: tls.issuer names it, so every server workload's
//             certificate is a cert-manager Certificate; verify green, and query-frontend presents a certificate
//             that CA signed
// Environment: E2E_MODES (comma list, default all five), E2E_KPS_CHART (required), E2E_IMAGES (an archive from
// `thanos-fleet images save`; made and cached when absent), E2E_NODE_IMAGE (default kindest/node:v1.36.1),
// E2E_KEEP=1 keeps each fleet, E2E_KEEP_ON_FAILURE=1 only a failed one, E2E_VERBOSE=1 streams kind and helm.
// KUBECONFIG is a file inside each run's state dir, so the user's is untouched. Results (step timings, peak
// memory of the nodes, down time) are printed and written to e2e-kind-results.json in the working directory.
import { execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { stringify } from "yaml";
import type { HttpClient } from "../src/net/http.ts";
import { fleetClient } from "../src/net/https.ts";
import { commandLine, type Exec, realExec } from "../src/runtimes/kube/exec.ts";
import { createKubeRuntime, realDeps } from "../src/runtimes/kube/index.ts";
import { kindClusters } from "../src/runtimes/kube/kind.ts";
import type { Reporter } from "../src/runtimes/runtime.ts";
import { ensureStateDir } from "../src/state/dir.ts";
import { loadTopology } from "../src/topology/load.ts";
import type { Topology } from "../src/topology/topology.ts";
import { createReporter } from "../src/ui/reporter.ts";
import type { Report } from "../src/verify/types.ts";
import {
  CERT_MANAGER_IMAGE,
  CONTROLLER_NAME,
  certManagerManifests,
} from "../testing/cert-manager/manifests.ts";
import { makeTestCa } from "../testing/test-ca.ts";

const run = promisify(execFile);
const verbose = process.env.E2E_VERBOSE === "1";
const keepAlways = process.env.E2E_KEEP === "1";
const keepOnFailure = process.env.E2E_KEEP_ON_FAILURE === "1";
const NODE_IMAGE = process.env.E2E_NODE_IMAGE ?? "kindest/node:v1.36.1";
const MODES = ["default", "plaintext", "existing", "receive", "cert-manager"] as const;
type Mode = (typeof MODES)[number];
const CLI = resolve(import.meta.dirname, "../src/cli.ts");
const log = (line: string) => process.stderr.write(`e2e: ${line}\n`);

interface ModeResult {
  mode: Mode;
  ok: boolean;
  error?: string;
  /** Each step of the first `up`, in order, with its seconds. */
  steps: { title: string; seconds: number }[];
  upSeconds?: number;
  firstGreenVerifySeconds?: number;
  secondUpSeconds?: number;
  downSeconds?: number;
  /** Peak of the summed memory of every container of the fleet (docker stats), MiB. */
  peakMemoryMiB?: number;
}

/** A reporter that prints as the CLI does and keeps each step's duration. */
function recordingReporter(steps: ModeResult["steps"]): Reporter {
  const inner = createReporter({ verbose });
  return {
    ...inner,
    step(title) {
      const started = Date.now();
      const done = inner.step(title);
      return (error) => {
        steps.push({ title, seconds: Math.round((Date.now() - started) / 100) / 10 });
        done(error);
      };
    },
  };
}

/** The process must not be able to send container traffic off this machine; kind:host installs the rule. */
async function checkRejectRule(): Promise<void> {
  const { stdout: route } = await run("ip", ["route", "show", "default"]);
  const dev = /\bdev (\S+)/.exec(route)?.[1];
  if (!dev) throw new Error("no default route: cannot tell which interface leads off this machine");
  const { stdout: rules } = await run("iptables", ["-S", "DOCKER-USER"]);
  if (!rules.split("\n").some((r) => r.includes(`-o ${dev}`) && r.includes("-j REJECT")))
    throw new Error(
      `no REJECT rule for traffic forwarded from Docker networks to ${dev} in DOCKER-USER; run 'npm run kind:host' first`,
    );
  log(`Docker networks cannot reach beyond this machine: DOCKER-USER rejects everything forwarded to ${dev}`);
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, ...opts.env },
      signal: opts.signal,
    });
    child.on("error", fail);
    child.on("exit", (code, sig) => done(code ?? (sig ? 128 : 1)));
  });
}

/** verify, run whole on the TLS-off fleet, fails storage-doors naming the storage cluster's plain S3. */
async function plainS3Reported(
  configFile: string,
  stateDir: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<void> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", CLI, "verify", "--json", "-c", configFile, "--state-dir", stateDir],
    {
      env: { ...process.env, ...env },
      signal,
    },
  ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
  const report = JSON.parse(stdout) as Report;
  const doors = report.checks.find((c) => c.id === "storage-doors");
  if (doors?.status !== "fail" || !doors.detail.includes("plain HTTP")) {
    throw new Error(
      `with tls.s3 false, verify's storage-doors should fail naming the plain S3: ${JSON.stringify(doors)}`,
    );
  }
  log(`verify names the plain S3: ${doors.detail}`);
}

/** The fleet.yaml of one run: the offline machine's settings plus what the mode adds. */
function fleetYaml(
  mode: Mode,
  chart: string,
  images: string,
  contexts: Record<string, string>,
  issuerCa?: string,
): string {
  const cluster = (name: string, role: string) => ({
    name,
    role,
    ...(contexts[name] ? { context: contexts[name] } : {}),
  });
  return stringify({
    chart: { path: chart },
    images: { archive: images },
    // No Grafana image can be built offline (AGPL): verify checks the datasource ConfigMap instead.
    grafana: false,
    // Components whose images the Go module proxy cannot give: kube-state-metrics and the webhooks' certgen Job.
    // Without that Job nothing makes the operator's serving certificate: its TLS goes off with the webhooks.
    kubePrometheusStackValues: {
      kubeStateMetrics: { enabled: false },
      prometheusOperator: { admissionWebhooks: { enabled: false }, tls: { enabled: false } },
    },
    versions: { kindNodeImage: NODE_IMAGE },
    blocks: { duration: "2m", syncInterval: "15s" },
    tls:
      mode === "plaintext"
        ? { grpc: false, http: false, s3: false }
        : issuerCa
          ? { issuer: { name: ISSUER, kind: "ClusterIssuer", ca: issuerCa } }
          : {},
    clusters: [
      cluster("mgmt", "observer"),
      cluster("biz1", "workload"),
      { ...cluster("biz2", "workload"), ...(mode === "receive" ? { mode: "receive" } : {}) },
      cluster("minio", "storage"),
    ],
  });
}

/** The image archive: E2E_IMAGES, else made once by `images save` and cached by the list of images it holds. */
async function imageArchive(configFile: string, signal: AbortSignal): Promise<string> {
  if (process.env.E2E_IMAGES) return resolve(process.env.E2E_IMAGES);
  const { stdout } = await run(process.execPath, [
    "--import",
    "tsx",
    CLI,
    "images",
    "--json",
    "-c",
    configFile,
  ]);
  const names = (JSON.parse(stdout) as { images: { image: string }[] }).images.map((i) => i.image).sort();
  // Keyed by each image's ID too: a rebuilt image under the same name makes a new archive.
  const { stdout: ids } = await run("docker", ["image", "inspect", "--format", "{{.Id}}", ...names]);
  const { createHash } = await import("node:crypto");
  const id = createHash("sha256")
    .update(`${names.join("\n")}\n${ids}`)
    .digest("hex")
    .slice(0, 12);
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "thanos-fleet", "e2e");
  const file = join(dir, `images-${id}.tar`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  log(`saving ${names.length} images into ${file}`);
  const code = await cli(["images", "save", file, "-c", configFile], { signal });
  if (code !== 0) throw new Error(`'thanos-fleet images save' exited ${code}`);
  return file;
}

/** Samples `docker stats` of the fleet's containers until stopped; the peak of their summed memory. */
function memorySampler(clusters: string[]): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const unit: Record<string, number> = { B: 1 / 2 ** 20, KiB: 1 / 1024, MiB: 1, GiB: 1024 };
  const loop = (async () => {
    while (running) {
      try {
        const { stdout } = await run("docker", [
          "stats",
          "--no-stream",
          "--format",
          "{{.Name}} {{.MemUsage}}",
        ]);
        let sum = 0;
        for (const line of stdout.split("\n")) {
          const m = /^(\S+) ([0-9.]+)(B|KiB|MiB|GiB) \//.exec(line);
          if (m?.[1] && clusters.some((c) => m[1]?.startsWith(`${c}-`)))
            sum += Number(m[2]) * (unit[m[3] ?? "MiB"] ?? 1);
        }
        peak = Math.max(peak, sum);
      } catch {
        // docker stats fails while containers come and go; the next sample counts.
      }
      await sleep(10_000);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.round(peak);
    },
  };
}

interface QueryResult {
  status: string;
  data?: { result: { metric: Record<string, string>; value?: [number, string] }[] };
}

/** query-frontend as the host reaches it, with the fleet's client certificate where it asks for one (`tls.http`). */
interface Frontend {
  url: string;
  http: HttpClient;
}

async function instantQuery(frontend: Frontend, query: string, dedup: boolean): Promise<QueryResult["data"]> {
  // The base may carry a path (the pod proxy's /<cluster>/<pod>/<port>): append to it, do not replace it.
  const url = new URL(`${frontend.url.replace(/\/$/, "")}/api/v1/query`);
  url.searchParams.set("query", query);
  url.searchParams.set("dedup", String(dedup));
  const answer = await frontend.http(url.toString(), { timeoutMs: 10_000 });
  const res = { ok: answer.status >= 200 && answer.status < 300, status: answer.status };
  const text = answer.body;
  // A proxy in the way answers in plain text: its words are the story, not a JSON parse error.
  let body: QueryResult | undefined;
  try {
    body = JSON.parse(text) as QueryResult;
  } catch {
    body = undefined;
  }
  if (!res.ok || body?.status !== "success")
    throw new Error(`query ${query} answered ${res.status}: ${text.trim().slice(0, 300)}`);
  return body.data;
}

/**
 * Asks `attempt` every 5 s for up to 3 min until what it saw is right, and logs that; else fails with `what` and
 * what it saw last.
 */
async function pollRight(
  what: string,
  attempt: () => Promise<{ right: boolean; seen: string }>,
): Promise<void> {
  const deadline = Date.now() + 3 * 60_000;
  let last = "";
  for (;;) {
    try {
      const { right, seen } = await attempt();
      if (right) {
        log(seen);
        return;
      }
      last = seen;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: ${last}`);
    await sleep(5000);
  }
}

/** The cross-cluster promise: one query, series of every workload cluster, each cluster's replicas deduplicated. */
async function crossClusterQuery(topology: Topology, queryFrontend: Frontend): Promise<void> {
  const want = topology.workloads.map((w) => w.name).sort();
  await pollRight("the cross-cluster query did not come right", async () => {
    const merged = await instantQuery(queryFrontend, "count by (cluster) (up)", true);
    const got = [...new Set(merged?.result.map((r) => r.metric.cluster ?? ""))].sort();
    const raw = await instantQuery(queryFrontend, "count by (cluster, prometheus_replica) (up)", false);
    const replicas = new Map<string, number>();
    for (const r of raw?.result ?? []) {
      const c = r.metric.cluster ?? "";
      replicas.set(c, (replicas.get(c) ?? 0) + 1);
    }
    const deduplicated = merged?.result.length === want.length;
    const everyReplica = topology.workloads.every((w) => replicas.get(w.name) === w.prometheus.replicas);
    const counts = [...replicas].map(([c, n]) => `${c}×${n}`).join(", ");
    return want.every((c) => got.includes(c)) && deduplicated && everyReplica
      ? {
          right: true,
          seen: `cross-cluster query through query-frontend: ${got.join(", ")} deduplicated; without dedup ${counts}`,
        }
      : {
          right: false,
          seen: `clusters ${got.join(", ") || "none"} (want ${want.join(", ")}); replicas ${counts}`,
        };
  });
}

/**
 * A receive-mode cluster's series through query-frontend: without deduplication each is there once per Prometheus
 * replica and ingester copy (prometheus_replica × receive_replica), with it once.
 */
async function receiveDeduplicated(topology: Topology, queryFrontend: Frontend): Promise<void> {
  const rf = topology.observer.receive.replicationFactor;
  for (const w of topology.workloads.filter((x) => x.mode === "receive")) {
    const want = w.prometheus.replicas * rf;
    await pollRight(`${w.name}'s series through receive are not deduplicated`, async () => {
      const raw = await instantQuery(
        queryFrontend,
        `count by (prometheus_replica, receive_replica) (up{cluster="${w.name}"})`,
        false,
      );
      // Deduplicated, each series once: no two answers alike without the replica labels (a job may scrape one
      // instance at several paths, as the kubelet's does, so job and instance alone do not name a series).
      const merged = await instantQuery(queryFrontend, `up{cluster="${w.name}"}`, true);
      const copies = raw?.result.length ?? 0;
      const series = new Map<string, number>();
      for (const r of merged?.result ?? []) {
        const { prometheus_replica: _p, receive_replica: _r, ...labels } = r.metric;
        const key = JSON.stringify(Object.entries(labels).sort());
        series.set(key, (series.get(key) ?? 0) + 1);
      }
      const twice = [...series].filter(([, n]) => n > 1).map(([k]) => k);
      const once = series.size > 0 && twice.length === 0;
      const seen = `${w.name}: ${copies} copies of each series without dedup (want ${want}), ${series.size} series with dedup${twice.length > 0 ? `, more than once: ${twice.slice(0, 3).join(" ")}` : ", each once"}`;
      return { right: copies === want && once, seen };
    });
  }
}

/** mgmt runs no Prometheus: the compactor's metrics reach the global view through each workload cluster's scrape. */
async function compactorInGlobalView(topology: Topology, queryFrontend: Frontend): Promise<void> {
  const want = topology.workloads.map((w) => w.name).sort();
  await pollRight("thanos_compact_halted is not in the global view", async () => {
    const halted = await instantQuery(queryFrontend, 'thanos_compact_halted{job="thanos-compact"}', true);
    const got = (halted?.result ?? []).map((r) => r.metric.cluster ?? "").sort();
    return got.join() === want.join()
      ? { right: true, seen: `the compactor's thanos_compact_halted arrives from ${got.join(", ")}` }
      : { right: false, seen: `from ${got.join(", ") || "no cluster"} (want ${want.join(", ")})` };
  });
}

/** The CA of the cert-manager mode's ClusterIssuer: one for every cluster, as a fleet's issuers must share one. */
const ISSUER = "fleet-ca";
async function makeIssuerCa(stateDir: string): Promise<{ cert: string; key: string }> {
  const dir = join(stateDir, "issuer-ca");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return makeTestCa(dir, { subject: "/CN=e2e cert-manager issuer CA", days: 30 });
}

/**
 * What a user with cert-manager has before `up`: in each cluster cert-manager's CRDs and controllers (the runner's
 * image loaded as kind loads any local image), the CA's Secret in cert-manager's namespace and a CA ClusterIssuer
 * backed by it, Ready.
 */
async function installCertManager(
  contexts: string[],
  ca: { cert: string; key: string },
  signal: AbortSignal,
): Promise<void> {
  const manifests = await certManagerManifests();
  const file = join(await mkdtemp(join(tmpdir(), "thanos-fleet-e2e-cm-")), "cert-manager.yaml");
  await writeFile(file, manifests.map((m) => stringify(m)).join("---\n"));
  const issuer = join(dirname(file), "issuer.yaml");
  await writeFile(
    issuer,
    stringify({
      apiVersion: "cert-manager.io/v1",
      kind: "ClusterIssuer",
      metadata: { name: ISSUER },
      spec: { ca: { secretName: `${ISSUER}-key` } },
    }),
  );
  for (const context of contexts) {
    const started = Date.now();
    const kubectl = (...args: string[]) =>
      realExec.run("kubectl", ["--context", context, ...args], { signal });
    await realExec.run(
      "kind",
      ["load", "docker-image", CERT_MANAGER_IMAGE, "--name", context.replace(/^kind-/, "")],
      {
        signal,
      },
    );
    await kubectl("apply", "--server-side", "-f", file);
    await kubectl("wait", "--for=condition=Established", "--timeout=2m", "crd", "--all");
    // The key goes in by file name, never on a command line.
    await kubectl(
      "-n",
      "cert-manager",
      "create",
      "secret",
      "tls",
      `${ISSUER}-key`,
      `--cert=${ca.cert}`,
      `--key=${ca.key}`,
    );
    await kubectl("apply", "--server-side", "-f", issuer);
    await kubectl("-n", "cert-manager", "rollout", "status", `deploy/${CONTROLLER_NAME}`, "--timeout=3m");
    await kubectl("wait", "--for=condition=Ready", "--timeout=3m", `clusterissuer/${ISSUER}`);
    log(
      `cert-manager and ClusterIssuer ${ISSUER} ready in ${context} in ${Math.round((Date.now() - started) / 1000)}s`,
    );
  }
}

/** query-frontend, as the host reaches it, presents a certificate the issuer's CA signed. */
async function issuedByCertManager(url: string, caFile: string): Promise<void> {
  const ca = new X509Certificate(await readFile(caFile));
  const { hostname, port } = new URL(url);
  const presented = await new Promise<X509Certificate>((done, fail) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (peer) done(peer);
      else fail(new Error(`${url} presented no certificate`));
    });
    socket.on("error", fail);
  });
  if (!presented.checkIssued(ca) || !presented.verify(ca.publicKey))
    throw new Error(
      `query-frontend at ${url} presents a certificate of ${presented.issuer}, not one the issuer's CA (${ca.subject}) signed`,
    );
  log(
    `query-frontend presents a certificate cert-manager issued (${presented.subjectAltName}, until ${presented.validTo})`,
  );
}

/** Clusters made beforehand for the existing-clusters mode: plain kind clusters, images loaded as a user would. */
const PRE = "pre";
async function createExistingClusters(names: string[], images: string, signal: AbortSignal): Promise<void> {
  const config = stringify({
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    nodes: [{ role: "control-plane" }, { role: "worker" }],
  });
  const file = join(await mkdtemp(join(tmpdir(), "thanos-fleet-e2e-kind-")), "kind.yaml");
  await writeFile(file, config);
  // One at a time: kind creates the shared network with the first cluster.
  for (const name of names) {
    const started = Date.now();
    await realExec.run(
      "kind",
      [
        "create",
        "cluster",
        "--name",
        `${PRE}-${name}`,
        "--image",
        NODE_IMAGE,
        "--config",
        file,
        "--wait",
        "5m",
      ],
      { signal },
    );
    await realExec.run("kind", ["load", "image-archive", images, "--name", `${PRE}-${name}`], { signal });
    log(
      `existing cluster ${PRE}-${name} created and loaded in ${Math.round((Date.now() - started) / 1000)}s`,
    );
  }
}

/** What `down` must leave: no container of the fleet's kind clusters, and the `kind` network only if it was there. */
async function leftBehind(clusters: string[], networkBefore: boolean): Promise<string[]> {
  const problems: string[] = [];
  const { stdout } = await run("docker", ["ps", "-a", "--format", "{{.Names}}"]);
  const containers = stdout.split("\n").filter((n) => clusters.some((c) => n.startsWith(`${c}-`)));
  if (containers.length > 0) problems.push(`containers left: ${containers.join(", ")}`);
  const { stdout: networks } = await run("docker", ["network", "ls", "--format", "{{.Name}}"]);
  if (!networkBefore && networks.split("\n").includes("kind"))
    problems.push("the kind network that up created is still there");
  return problems;
}

/** The existing clusters after `down`: nothing labelled as the fleet's, no namespace it created. */
async function existingLeftovers(contexts: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const context of contexts) {
    const { stdout } = await run("kubectl", [
      "--context",
      context,
      "get",
      "all,secrets,configmaps,pvc",
      "-A",
      "-l",
      "app.kubernetes.io/managed-by=thanos-fleet",
      "-o",
      "name",
    ]);
    if (stdout.trim()) problems.push(`${context} still holds: ${stdout.trim().split("\n").join(", ")}`);
  }
  return problems;
}

async function runMode(mode: Mode, chart: string, signal: AbortSignal): Promise<ModeResult> {
  const result: ModeResult = { mode, ok: false, steps: [] };
  const stateDir = await ensureStateDir(await mkdtemp(join(tmpdir(), `thanos-fleet-e2e-${mode}-`)));
  const env = { KUBECONFIG: join(stateDir, "kubeconfig") };
  process.env.KUBECONFIG = env.KUBECONFIG;
  log(`[${mode}] state dir ${stateDir}`);
  const configFile = join(stateDir, "fleet.yaml");
  const names = ["mgmt", "biz1", "biz2", "minio"];
  const existing = mode === "existing" || mode === "cert-manager";
  const contexts = existing ? Object.fromEntries(names.map((n) => [n, `kind-${PRE}-${n}`])) : {};
  const kindNames = existing ? names.map((n) => `${PRE}-${n}`) : names;
  const issuerCa = mode === "cert-manager" ? await makeIssuerCa(stateDir) : undefined;
  // The archive is made from a config without contexts (same images in every mode).
  await writeFile(
    configFile,
    fleetYaml(mode, chart, join(stateDir, "unused.tar"), contexts, issuerCa?.cert),
    { mode: 0o600 },
  );
  const images = await imageArchive(configFile, signal);
  await writeFile(configFile, fleetYaml(mode, chart, images, contexts, issuerCa?.cert), { mode: 0o600 });
  const topology = await loadTopology(configFile);

  const { stdout: nets } = await run("docker", ["network", "ls", "--format", "{{.Name}}"]);
  const networkBefore = nets.split("\n").includes("kind");
  const commands: string[] = [];
  const exec: Exec = {
    run(cmd, args, opts) {
      commands.push(commandLine(cmd, args));
      return realExec.run(cmd, args, opts);
    },
  };
  const runtime = createKubeRuntime(realDeps({ exec }));
  const memory = memorySampler(kindNames);
  let failed = false;
  let created = false;
  try {
    if (existing) {
      created = true;
      await createExistingClusters(names, images, signal);
    }
    if (issuerCa) await installCertManager(Object.values(contexts), issuerCa, signal);
    const reporter = recordingReporter(result.steps);
    const started = Date.now();
    created = true;
    await runtime.up(topology, { stateDir, reporter, signal, verbose });
    result.upSeconds = Math.round((Date.now() - started) / 1000);
    log(`[${mode}] up took ${result.upSeconds}s`);

    // The CLI's verify, as a user runs it: live progress, exit 0 only when every check passes.
    // With TLS off, what the user chose open is left out of the wait for green, then checked to be reported.
    const open = mode === "plaintext" ? ["--skip", "exposure", "storage-doors"] : [];
    const verifyStarted = Date.now();
    const code = await cli(["verify", "--wait", "12m", "-c", configFile, "--state-dir", stateDir, ...open], {
      env,
      signal,
    });
    if (code !== 0) throw new Error(`'thanos-fleet verify --wait 12m' exited ${code}`);
    result.firstGreenVerifySeconds = Math.round((Date.now() - verifyStarted) / 1000);
    if (mode === "plaintext") await plainS3Reported(configFile, stateDir, env, signal);

    const endpoints = await runtime.endpoints(topology, { stateDir });
    const frontend = { url: endpoints.queryFrontend, http: fleetClient(10_000, endpoints.httpTls) };
    await crossClusterQuery(topology, frontend);
    await compactorInGlobalView(topology, frontend);
    if (mode === "receive") await receiveDeduplicated(topology, frontend);
    if (issuerCa) await issuedByCertManager(endpoints.queryFrontend, issuerCa.cert);

    const again = Date.now();
    const mark = commands.length;
    await runtime.up(topology, { stateDir, reporter: createReporter({ verbose }), signal, verbose });
    result.secondUpSeconds = Math.round((Date.now() - again) / 1000);
    const changed = commands
      .slice(mark)
      .filter((c) => /^kind (create|load)|^helm (upgrade|install|repo)/.test(c));
    if (changed.length > 0) throw new Error(`a second up was not a no-op: ${changed.join("; ")}`);
    log(`[${mode}] a second up changed nothing (${result.secondUpSeconds}s)`);
  } catch (error) {
    failed = true;
    result.error = describe(error);
    process.stderr.write(`e2e [${mode}] failed: ${result.error}\n`);
  }
  result.peakMemoryMiB = await memory.stop();
  await runtime.close();
  const keep = keepAlways || (failed && keepOnFailure);
  if (created && !keep) {
    try {
      const started = Date.now();
      await runtime.down(topology, {
        stateDir,
        reporter: createReporter({ verbose }),
        signal: AbortSignal.timeout(10 * 60_000),
        verbose,
        purge: true,
      });
      result.downSeconds = Math.round((Date.now() - started) / 1000);
      const problems = existing
        ? await existingLeftovers(Object.values(contexts))
        : await leftBehind(kindNames, networkBefore);
      if (existing) {
        for (const name of kindNames) await realExec.run("kind", ["delete", "cluster", "--name", name]);
      }
      if (problems.length > 0) throw new Error(problems.join("; "));
      log(`[${mode}] down took ${result.downSeconds}s and left nothing behind`);
    } catch (error) {
      failed = true;
      result.error = [result.error, `down: ${describe(error)}`].filter(Boolean).join("\n");
      process.stderr.write(`e2e [${mode}] down failed: ${describe(error)}\n`);
    }
  } else if (keep) {
    log(`[${mode}] kept: 'thanos-fleet down -c ${configFile} --state-dir ${stateDir}' removes it`);
  }
  if (!keep) await rm(stateDir, { recursive: true, force: true });
  result.ok = !failed;
  return result;
}

function describe(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error; e; e = (e as Error).cause) {
    lines.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return lines.join("\n  caused by: ");
}

function summary(results: ModeResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(
      `${r.ok ? "PASS" : "FAIL"} ${r.mode}: up ${r.upSeconds ?? "-"}s, first green verify ${r.firstGreenVerifySeconds ?? "-"}s, ` +
        `second up ${r.secondUpSeconds ?? "-"}s, down ${r.downSeconds ?? "-"}s, peak node memory ${r.peakMemoryMiB ?? "-"} MiB`,
    );
    for (const s of r.steps) out.push(`    ${s.seconds.toFixed(1).padStart(7)}s  ${s.title}`);
  }
  return `${out.join("\n")}\n`;
}

async function main(): Promise<number> {
  const modes = (process.env.E2E_MODES ?? MODES.join(",")).split(",").map((m) => m.trim());
  const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
  if (unknown.length > 0) {
    process.stderr.write(`e2e: unknown mode ${unknown.join(", ")}; E2E_MODES takes ${MODES.join(", ")}\n`);
    return 2;
  }
  const chart = process.env.E2E_KPS_CHART;
  if (!chart || !existsSync(chart)) {
    process.stderr.write(
      "e2e: E2E_KPS_CHART must name the kube-prometheus-stack 88.5.3 chart (a directory with its dependencies in charts/, or a .tgz); 'npm run kind:host' prints where it assembled one\n",
    );
    return 2;
  }
  await checkRejectRule();
  const stale = [...(await kindClusters(realExec))].filter((c) =>
    ["mgmt", "biz1", "biz2", "minio"].some((n) => c === n || c === `${PRE}-${n}`),
  );
  if (stale.length > 0) {
    process.stderr.write(
      `e2e: kind clusters of an earlier run exist (${stale.join(", ")}); delete them first\n`,
    );
    return 2;
  }
  const controller = new AbortController();
  const stop = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(150 * 60_000)]);
  const results: ModeResult[] = [];
  for (const mode of modes as Mode[]) {
    if (signal.aborted) break;
    results.push(await runMode(mode, resolve(chart), signal));
  }
  const text = summary(results);
  process.stdout.write(`\n${text}`);
  await writeFile(
    "e2e-kind-results.json",
    `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`,
  );
  return results.every((r) => r.ok) && results.length === modes.length ? 0 : 1;
}

process.exitCode = await main();
