// `up` on Kubernetes as an ordered list of small steps (kind's Actions): clusters, addresses, storage, workload
// clusters, mgmt, verify. Each step is idempotent, reported on one line with its duration, and waited on; the
// runner (src/runtimes/steps.ts) is the local runtime's too.
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { NAMESPACE } from "../../components/context.ts";
import { storageServerName } from "../../components/storage.ts";
import { podTitle } from "../../components/types.ts";
import { archiveImages, writeArchiveSubset } from "../../images/archive.ts";
import { writeDiscoveredAddresses } from "../../render/addresses.ts";
import { chartSource, RELEASE } from "../../render/helm.ts";
import { fleetImages, normalizeImage } from "../../render/images.ts";
import type { KubeObject, RenderedCluster } from "../../render/types.ts";
import { COMPONENT_LABEL } from "../../render/workloads.ts";
import { waitProgress } from "../../ui/progress.ts";
import type { Step } from "../steps.ts";
import { applyObjects, waitReady } from "./apply.ts";
import { waitCertificatesReady } from "./cert-manager.ts";
import { discoverAddresses, loadBalancerServices } from "./discover.ts";
import { addRepo, releaseUpToDate, upgradeInstall, valuesFile, writeValues } from "./helm.ts";
import { kindNodes, loadImageArchive, nodeImages } from "./images.ts";
import {
  createKindCluster,
  exportKubeconfig,
  kindClusters,
  kindNetworkExists,
  writeKindConfig,
} from "./kind.ts";
import { waitOperated } from "./operated.ts";
import { preflight } from "./preflight.ts";
import { type RunContext, renderedCluster } from "./run-context.ts";
import { addUnique, clusterState, kubeDir } from "./state.ts";

/** One step of `up` on Kubernetes; src/runtimes/steps.ts runs them. */
export type Action = Step<RunContext>;

const namespaces = (rc: RenderedCluster) => rc.manifests.filter((o) => o.kind === "Namespace");
const nonNamespaces = (rc: RenderedCluster) => rc.manifests.filter((o) => o.kind !== "Namespace");
const listNames = (names: string[]) => names.join(", ");
/** Words in a sentence: "A", "A and B", "A, B and C". */
const listWords = (words: string[]) =>
  words.length > 1 ? `${words.slice(0, -1).join(", ")} and ${words.at(-1)}` : (words[0] ?? "");

async function apply(ctx: RunContext, rc: RenderedCluster, objects: KubeObject[]): Promise<void> {
  const state = clusterState(ctx.state, rc.cluster, rc.context);
  await applyObjects(ctx.deps.api(rc.context), objects, state, {
    clock: ctx.deps.clock,
    signal: ctx.signal,
    persist: () => ctx.persist(),
  });
}

async function waitFor(ctx: RunContext, rc: RenderedCluster): Promise<void> {
  await waitReady(ctx.deps.api(rc.context), rc.manifests, {
    clock: ctx.deps.clock,
    signal: ctx.signal,
    timeoutMs: ctx.deps.timeouts.rolloutMs,
  });
}

const kindOf = (ctx: RunContext) => ctx.fleet.clusters.filter((c) => c.kindConfig);
/** kind clusters still to create, in fleet order. */
const toCreate = (ctx: RunContext) => kindOf(ctx).filter((c) => !ctx.kindExisting.has(c.cluster));

/** Creates kind clusters at once; each is recorded as created by thanos-fleet as soon as kind is done with it. */
async function create(ctx: RunContext, clusters: RenderedCluster[]): Promise<void> {
  // Config files first, so that every kind process starts at once, in fleet order.
  const files = new Map<string, string>();
  for (const rc of clusters) files.set(rc.cluster, await writeKindConfig(ctx.stateDir, rc));
  await allSettled(
    clusters,
    (rc) => rc.cluster,
    async (rc) => {
      const file = files.get(rc.cluster) ?? "";
      await createKindCluster(
        ctx.deps.exec,
        rc.cluster,
        file,
        ctx.deps.timeouts.kindCreate,
        ctx.streaming(rc.cluster),
      );
      ctx.kindExisting.add(rc.cluster);
      clusterState(ctx.state, rc.cluster, rc.context).createdKind = true;
      await ctx.persist();
    },
  );
}

/** Runs fn for each item at once; waits for all, then fails with every failure named. */
async function allSettled<T>(
  items: T[],
  name: (item: T) => string,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [{ item: items[i] as T, reason: r.reason }] : [],
  );
  if (failed.length === 1) throw failed[0]?.reason;
  if (failed.length > 1) {
    throw new AggregateError(
      failed.map((f) => f.reason),
      `${failed.length} failed: ${failed.map((f) => `${name(f.item)}: ${(f.reason as Error).message}`).join("\n")}`,
    );
  }
}

/** The first step of `up`, run on its own: nothing is written anywhere before it has passed. */
export const preflightAction: Action = {
  title: (ctx) => {
    const tools = [
      kindOf(ctx).length > 0 ? "Docker, kind, " : "",
      "kubectl",
      ctx.topology.workloads.length ? ", helm" : "",
    ];
    const airGap = [
      ctx.imagesArchive ? ", the image archive" : "",
      chartSource(ctx.topology).local && ctx.topology.workloads.length ? ", the local chart" : "",
    ];
    return `preflight: ${tools.join("")}${kindOf(ctx).length > 0 ? ", memory, limits" : ""}${
      ctx.fleet.clusters.some((c) => !c.kindConfig) ? ", existing contexts" : ""
    }${airGap.join("")}`;
  },
  async execute(ctx) {
    const result = await preflight(ctx.topology, ctx.fleet.clusters, {
      exec: ctx.deps.exec,
      api: ctx.deps.api,
      platform: ctx.deps.platform,
      readSysctl: ctx.deps.readSysctl,
      ...(ctx.imagesArchive ? { imagesArchive: ctx.imagesArchive } : {}),
    });
    for (const f of result.facts) ctx.reporter.verbose(f);
    for (const w of result.warnings) ctx.reporter.info(`warning: ${w}`);
  },
};

const findKindClusters: Action = {
  title: (ctx) => (kindOf(ctx).length > 0 ? "look for existing kind clusters" : undefined),
  async execute(ctx) {
    ctx.kindExisting = await kindClusters(ctx.deps.exec, { signal: ctx.signal });
    const reused = kindOf(ctx).filter((c) => ctx.kindExisting.has(c.cluster));
    for (const rc of reused) {
      const mine = ctx.state.clusters[rc.cluster]?.createdKind;
      ctx.reporter.info(
        `  kind cluster ${rc.cluster} exists: reusing it${mine ? "" : " (not created by thanos-fleet: down will leave it)"}`,
      );
      // A kubeconfig that lost the cluster's context (another KUBECONFIG, a cleaned file) gets it back from kind.
      try {
        ctx.deps.api(rc.context);
      } catch {
        await exportKubeconfig(ctx.deps.exec, rc.cluster, ctx.streaming(rc.cluster));
      }
    }
    // kind creates its Docker network with the first cluster; two creating it at once can collide.
    const creating = toCreate(ctx).length;
    const network = creating > 0 && (await kindNetworkExists(ctx.deps.exec, { signal: ctx.signal }));
    ctx.firstAlone = creating > 1 && !network;
    if (creating > 0 && !network) ctx.state.createdKindNetwork = true;
  },
};

const createFirstKindCluster: Action = {
  title: (ctx) =>
    ctx.firstAlone ? `create kind cluster ${toCreate(ctx)[0]?.cluster} (and the kind network)` : undefined,
  async execute(ctx) {
    await create(ctx, toCreate(ctx).slice(0, 1));
  },
};

const createKindClusters: Action = {
  title: (ctx) => {
    const names = toCreate(ctx).map((c) => c.cluster);
    if (names.length === 0) return undefined;
    return names.length === 1
      ? `create kind cluster ${names[0]}`
      : `create kind clusters ${listNames(names)} in parallel`;
  },
  async execute(ctx) {
    await create(ctx, toCreate(ctx));
  },
};

/** Per kind cluster, the images of the archive it runs, and the archive's images no cluster is known to run. */
function imagesPerCluster(ctx: RunContext, inArchive: Set<string>): Map<string, Set<string>> {
  const used = fleetImages(ctx.topology, ctx.fleet.clusters).filter((i) => !i.kindNode);
  const known = new Set(used.map((i) => normalizeImage(i.image)));
  const unknown = [...inArchive].filter((image) => !known.has(image));
  const out = new Map<string, Set<string>>();
  for (const rc of kindOf(ctx)) {
    const runs = used
      .filter((i) => i.usedBy.some((u) => u.cluster === rc.cluster))
      .map((i) => normalizeImage(i.image));
    out.set(rc.cluster, new Set([...runs.filter((image) => inArchive.has(image)), ...unknown]));
  }
  return out;
}

/**
 * The image archive into every node of every kind cluster, before anything that runs its images is applied: a kubelet
 * that tried to pull an image and failed keeps pulling it, even after it is loaded. Each cluster gets the images it
 * runs (and any of the archive's that no cluster is known to run), cut from the archive into a file of its own; a
 * cluster whose nodes all hold those already is left alone, so a second `up` loads nothing.
 */
const loadImages: Action = {
  title: (ctx) => {
    const names = kindOf(ctx).map((c) => c.cluster);
    if (!ctx.imagesArchive || names.length === 0) return undefined;
    return `images from ${ctx.imagesArchive} into every node of ${listNames(names)}${names.length > 1 ? ", in parallel" : ""}`;
  },
  async execute(ctx) {
    const file = ctx.imagesArchive as string;
    const wanted = imagesPerCluster(ctx, await archiveImages(file));
    const opts = { signal: ctx.signal };
    const images = (rc: RenderedCluster) => wanted.get(rc.cluster) ?? new Set<string>();
    const nodes = new Map<string, string[]>();
    const missing = new Map<string, Set<string>>();
    await allSettled(
      kindOf(ctx),
      (rc) => rc.cluster,
      async (rc) => {
        nodes.set(rc.cluster, await kindNodes(ctx.deps.exec, rc.cluster, opts));
        const lacking = new Set<string>();
        for (const node of nodes.get(rc.cluster) ?? []) {
          const held = await nodeImages(ctx.deps.exec, node, opts);
          for (const image of images(rc)) if (!held.has(image)) lacking.add(image);
        }
        missing.set(rc.cluster, lacking);
      },
    );
    const toLoad = kindOf(ctx).filter((rc) => (missing.get(rc.cluster)?.size ?? 0) > 0);
    const part = (rc: RenderedCluster) => join(kubeDir(ctx.stateDir), rc.cluster, "images.tar");
    try {
      for (const rc of toLoad) {
        for (const image of missing.get(rc.cluster) ?? [])
          ctx.reporter.verbose(`${rc.cluster}: missing ${image}`);
        await mkdir(dirname(part(rc)), { recursive: true });
        await writeArchiveSubset(file, part(rc), images(rc));
      }
      // The clusters' nodes import at once.
      await allSettled(
        toLoad,
        (rc) => rc.cluster,
        (rc) => loadImageArchive(ctx.deps.exec, part(rc), rc.cluster, ctx.streaming(rc.cluster)),
      );
    } finally {
      await Promise.all(toLoad.map((rc) => rm(part(rc), { force: true })));
    }
    for (const rc of kindOf(ctx)) {
      const n = nodes.get(rc.cluster)?.length ?? 0;
      const lacking = missing.get(rc.cluster)?.size ?? 0;
      ctx.reporter.info(
        lacking === 0
          ? `  ${rc.cluster}: its ${n} nodes hold its ${count(images(rc).size, "image")} already`
          : `  ${rc.cluster}: loaded ${count(images(rc).size, "image")} into ${n} nodes (${lacking} were missing)`,
      );
    }
  },
};

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const discover: Action = {
  title: (ctx) => {
    const lb = ctx.fleet.clusters.filter((c) => loadBalancerServices(c).length > 0).map((c) => c.cluster);
    return `discover node addresses${lb.length > 0 ? ` and load-balancer addresses (${listNames(lb)})` : ""}`;
  },
  async execute(ctx) {
    // LoadBalancer Services get their address only once they exist: apply them (and their namespace) first.
    for (const rc of ctx.fleet.clusters) {
      const lbs = loadBalancerServices(rc);
      if (lbs.length > 0) await apply(ctx, rc, [...namespaces(rc), ...lbs]);
    }
    const serviceType = new Map(ctx.topology.fleet.clusters.map((c) => [c.name, c.serviceType]));
    const found = await discoverAddresses({
      clusters: ctx.fleet.clusters,
      serviceType: (c) => serviceType.get(c) ?? "NodePort",
      api: ctx.deps.api,
      clock: ctx.deps.clock,
      signal: ctx.signal,
      loadBalancerTimeoutMs: ctx.deps.timeouts.loadBalancerMs,
    });
    const before = ctx.discovered;
    if (before && !isDeepStrictEqual(before, found)) {
      const moved = Object.entries(found.nodeIP)
        .filter(([c, ip]) => before.nodeIP[c] && before.nodeIP[c] !== ip)
        .map(([c, ip]) => `${c} ${before.nodeIP[c]} → ${ip}`);
      if (moved.length > 0) {
        ctx.reporter.info(
          `  node addresses changed since the last run (Docker restarted?): ${listNames(moved)}; re-wiring`,
        );
      }
    }
    for (const [c, ip] of Object.entries(found.nodeIP)) ctx.reporter.verbose(`${c}: ${ip}`);
    await writeDiscoveredAddresses(ctx.stateDir, found);
    ctx.discovered = found;
    // Each server's own certificate names the addresses just found (a load balancer's included: its Service was
    // applied above and has its address now, before any Secret is): made, or renewed when they changed or it expires
    // within 30 days, before the Secrets that carry it are applied.
    const renewed = (await ctx.deps.serverCerts?.(found)) ?? [];
    const made = renewed.filter((r) => r.why === "new").map((r) => r.name.replace(/^kube@/, ""));
    if (made.length > 0)
      ctx.reporter.info(`  a certificate of its own for ${count(made.length, "server")}: ${listNames(made)}`);
    for (const r of renewed.filter((x) => x.why !== "new")) {
      ctx.reporter.info(`  ${r.name.replace(/^kube@/, "")}: certificate renewed, ${r.why}`);
    }
    ctx.fleet = ctx.deps.render(ctx.topology, { credentials: ctx.credentials, discovered: found });
    const open = ctx.fleet.openAddresses.map((o) => o.variable);
    if (open.length > 0) throw new Error(`addresses still unknown after discovery: ${listNames(open)}`);
  },
};

function perCluster(
  role: RenderedCluster["role"],
  make: (name: string) => Action,
): (ctx: RunContext) => Action[] {
  return (ctx) => ctx.fleet.clusters.filter((c) => c.role === role).map((c) => make(c.cluster));
}

const namespaceAndSecrets = (name: string): Action => ({
  title: (ctx) => {
    const rc = renderedCluster(ctx, name);
    const what = rc.secrets.map((s) => s.metadata.name);
    return `${name}: namespace ${NAMESPACE} and Secrets${what.length > 0 ? ` (${listNames(what)})` : ""}`;
  },
  async execute(ctx) {
    const rc = renderedCluster(ctx, name);
    await apply(ctx, rc, [...namespaces(rc), ...rc.secrets]);
  },
});

/**
 * With a cert-manager Issuer: the cluster's Certificates, applied after its Secrets and before anything mounts the
 * Secrets cert-manager writes for them; then a wait until each is Ready. A re-run applies the same objects: nothing
 * changes, and cert-manager issues nothing new.
 */
const certificatesReady = (name: string): Action => ({
  title: (ctx) => {
    const certs = renderedCluster(ctx, name).certificates ?? [];
    const issuer = ctx.topology.fleet.tls.issuer;
    if (certs.length === 0 || !issuer) return undefined;
    return `${name}: ${count(certs.length, "Certificate")} from ${issuer.kind} ${issuer.name} (cert-manager), until Ready`;
  },
  async execute(ctx) {
    const rc = renderedCluster(ctx, name);
    const issuer = ctx.topology.fleet.tls.issuer;
    const certs = rc.certificates ?? [];
    if (!issuer || certs.length === 0) return;
    try {
      await apply(ctx, rc, certs);
    } catch (error) {
      throw new Error(
        `${name}: the Certificates cannot be applied in context ${rc.context}; is cert-manager (its CRDs) installed there? ` +
          `tls.issuer needs cert-manager in every cluster of the fleet, with ${issuer.kind} ${issuer.name}`,
        { cause: error },
      );
    }
    await waitCertificatesReady(ctx.deps.api(rc.context), certs, {
      clock: ctx.deps.clock,
      signal: ctx.signal,
      ...(ctx.deps.timeouts.certificateMs ? { timeoutMs: ctx.deps.timeouts.certificateMs } : {}),
      issuer,
      progress: (line) => ctx.reporter.info(line),
    });
  },
});

/** The storage cluster's S3 server, as its component names it. */
const serverOf = (ctx: RunContext): string =>
  ctx.topology.storage ? storageServerName(ctx.topology.storage) : "";

const storageApply = (name: string): Action => ({
  title: (ctx) =>
    `${name}: ${serverOf(ctx)}${renderedCluster(ctx, name).manifests.some((o) => o.kind === "Job") ? " and the bucket setup Job" : ""} (server-side apply)`,
  async execute(ctx) {
    await apply(ctx, renderedCluster(ctx, name), nonNamespaces(renderedCluster(ctx, name)));
  },
});

const storageWait = (name: string): Action => ({
  title: (ctx) =>
    `${name}: wait for ${serverOf(ctx)}, the bucket ${ctx.topology.fleet.bucket} and Thanos's bucket-scoped key`,
  async execute(ctx) {
    await waitFor(ctx, renderedCluster(ctx, name));
  },
});

const checkReleases: Action = {
  title: (ctx) => {
    const names = ctx.fleet.clusters.filter((c) => c.role === "workload").map((c) => c.cluster);
    return names.length > 0
      ? `compare the ${RELEASE} releases of ${listNames(names)} with the rendered values`
      : undefined;
  },
  async execute(ctx) {
    const pending: string[] = [];
    for (const rc of ctx.fleet.clusters.filter((c) => c.role === "workload")) {
      if (!rc.helmValues) throw new Error(`workload cluster ${rc.cluster} was rendered without Helm values`);
      await writeValues(ctx.stateDir, rc.cluster, rc.helmValues);
      const release = { name: RELEASE, namespace: NAMESPACE, context: rc.context };
      const current = await releaseUpToDate(
        ctx.deps.exec,
        release,
        ctx.topology.fleet.versions.kubePrometheusStack,
        rc.helmValues,
        { signal: ctx.signal },
      );
      if (current) ctx.reporter.info(`  ${rc.cluster}: ${RELEASE} is up to date; no upgrade`);
      else pending.push(rc.cluster);
    }
    ctx.pendingReleases = pending;
  },
};

const helmRepo: Action = {
  title: (ctx) =>
    ctx.pendingReleases.length > 0 && !chartSource(ctx.topology).local
      ? "helm repository prometheus-community"
      : undefined,
  async execute(ctx) {
    await addRepo(ctx.deps.exec, ctx.streaming("helm"));
  },
};

const helmInstall: Action = {
  title: (ctx) => {
    const names = ctx.pendingReleases;
    if (names.length === 0) return undefined;
    const version = ctx.topology.fleet.versions.kubePrometheusStack;
    const source = chartSource(ctx.topology);
    const from = source.local ? ` from ${source.chart}` : "";
    return `${RELEASE} ${version}${from} on ${listNames(names)} (helm upgrade --install --wait${names.length > 1 ? ", in parallel" : ""})`;
  },
  async execute(ctx) {
    const version = ctx.topology.fleet.versions.kubePrometheusStack;
    const release = { name: RELEASE, namespace: NAMESPACE };
    // Recorded before Helm starts: an install interrupted half-way is still uninstalled by `down`.
    for (const name of ctx.pendingReleases) {
      const rc = renderedCluster(ctx, name);
      addUnique(
        clusterState(ctx.state, rc.cluster, rc.context).helmReleases,
        release,
        (a, b) => a.name === b.name && a.namespace === b.namespace,
      );
    }
    await ctx.persist();
    await allSettled(
      ctx.pendingReleases,
      (c) => c,
      (name) => {
        const rc = renderedCluster(ctx, name);
        return upgradeInstall(
          ctx.deps.exec,
          { ...release, context: rc.context },
          chartSource(ctx.topology),
          version,
          valuesFile(ctx.stateDir, name),
          ctx.deps.timeouts.helm,
          ctx.streaming(name),
        );
      },
    );
  },
};

/** helm --wait ends with the operator running; the pods it runs (Prometheus, Alertmanager) are waited for here. */
const operatedWait: Action = {
  title: (ctx) => {
    const workloads = ctx.fleet.clusters.filter((c) => c.role === "workload");
    const names = workloads.map((c) => c.cluster);
    const what = [...new Set(workloads.flatMap((c) => (c.chartPods ?? []).map((p) => p.title)))];
    return names.length > 0
      ? `wait for the ${listWords(what)} pods the Prometheus Operator runs on ${listNames(names)}`
      : undefined;
  },
  async execute(ctx) {
    await allSettled(
      ctx.fleet.clusters.filter((c) => c.role === "workload"),
      (rc) => rc.cluster,
      (rc) =>
        waitOperated(ctx.deps.api(rc.context), NAMESPACE, {
          clock: ctx.deps.clock,
          signal: ctx.signal,
          timeoutMs: ctx.deps.timeouts.rolloutMs,
          onChange: (line) => ctx.reporter.info(`  ${rc.cluster}: ${line}`),
        }),
    );
  },
};

const workloadServices = (name: string): Action => ({
  title: (ctx) => {
    const type = ctx.topology.fleet.clusters.find((c) => c.name === name)?.serviceType ?? "NodePort";
    // The pods that get a Service of their own per replica, as the spec has them.
    const { pods, services } = ctx.fleet.spec;
    const selected = services.filter((s) => s.cluster === name && s.selector.pod !== undefined);
    const what = pods.filter(
      (p) => p.cluster === name && selected.some((s) => s.selector.workload === p.name),
    );
    return `${name}: a ${type} Service per ${listWords([...new Set(what.map(podTitle))])} replica (server-side apply)`;
  },
  async execute(ctx) {
    await apply(ctx, renderedCluster(ctx, name), nonNamespaces(renderedCluster(ctx, name)));
  },
});

const observerApply = (name: string): Action => ({
  // What the rendered cluster runs, by each workload's component: no list of components written out here.
  title: (ctx) => {
    const components = renderedCluster(ctx, name)
      .manifests.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
      .map((o) => o.metadata.labels?.[COMPONENT_LABEL] ?? o.metadata.name);
    return `${name}: ${listNames([...new Set(components)])} (server-side apply)`;
  },
  async execute(ctx) {
    await apply(ctx, renderedCluster(ctx, name), nonNamespaces(renderedCluster(ctx, name)));
  },
});

const observerWait = (name: string): Action => ({
  title: () => `${name}: wait for the rollouts`,
  async execute(ctx) {
    await waitFor(ctx, renderedCluster(ctx, name));
  },
});

const verify: Action = {
  title: (ctx) => (ctx.deps.verify ? "verify --wait: the fleet end to end" : undefined),
  async execute(ctx) {
    // Plain lines, one per change: the step's own line is live on a TTY.
    const progress = waitProgress({ write: (t) => ctx.reporter.info(t.replace(/\n$/, "")), isTTY: false });
    const result = await ctx.deps.verify?.(ctx.topology, {
      endpoints: ctx.endpoints,
      signal: ctx.signal,
      onProgress: progress,
    });
    if (!result) return;
    ctx.verifyResult = result;
    if (!result.ok) throw new Error(`verify found failures:\n${result.text}`);
  },
};

/** The steps of `up` after preflight, in order. Lists that depend on the fleet are expanded when their turn comes. */
export function upActions(ctx: RunContext): Action[] {
  const expand = (make: (ctx: RunContext) => Action[]): Action[] => make(ctx);
  return [
    findKindClusters,
    createFirstKindCluster,
    createKindClusters,
    loadImages,
    discover,
    ...expand(perCluster("storage", namespaceAndSecrets)),
    ...expand(perCluster("storage", certificatesReady)),
    ...expand(perCluster("storage", storageApply)),
    ...expand(perCluster("storage", storageWait)),
    ...expand(perCluster("workload", namespaceAndSecrets)),
    ...expand(perCluster("workload", certificatesReady)),
    checkReleases,
    helmRepo,
    helmInstall,
    operatedWait,
    ...expand(perCluster("workload", workloadServices)),
    ...expand(perCluster("observer", namespaceAndSecrets)),
    ...expand(perCluster("observer", certificatesReady)),
    ...expand(perCluster("observer", observerApply)),
    ...expand(perCluster("observer", observerWait)),
    verify,
  ];
}
