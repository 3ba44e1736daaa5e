// npm run kind:host: prepares this machine for real kind clusters offline.
//
// Docker with the runtime privileged nodes need here, no container traffic leaving the machine, kind, helm and
// kubectl for the host, the kind node image and every image the fleet runs, built from the Go module proxy, and
// kube-prometheus-stack assembled from local chart clones. Everything is cached by name and version outside the
// repository, so a second run only checks. `up` never runs this; it uses what is there.
//
// Options: --no-smoke skips the one-cluster smoke test; --smoke-only runs only that (after the host checks);
// --check-egress changes nothing and exits 0 only when the DOCKER-USER reject rule is in place; --build NAME…
// builds only those Go programs (gobuild.ts BUILDS, e.g. certManager for the envtests), without root or Docker.

import { createWriteStream, existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ensureKpsChart, kpsChartDir } from "./chart.ts";
import { ensureDaemonConfig, ensureDockerd, ensureHostPackages, ensureInotify } from "./docker.ts";
import { ensureRejectRule, rejectRuleInPlace } from "./egress.ts";
import { certManagerImage, fleetImages, PREBUILT, prebuiltPath } from "./fleetimages.ts";
import { BUILDS, type BuildName, ensureBuilt } from "./gobuild.ts";
import { ensureHostBinLinks, hostBinaries } from "./hostbin.ts";
import { ensureImage } from "./image.ts";
import { busyboxFiles, ensureBusybox, ensureDebootstrap, ensureNodeImage, NODE_IMAGE } from "./nodeimage.ts";
import { hostBinDir, kindHostDir, logFile } from "./paths.ts";
import { seconds, step, timings } from "./progress.ts";
import { smokeTest } from "./smoke.ts";

async function openLog(name: string): Promise<NodeJS.WritableStream> {
  const path = logFile(name);
  await mkdir(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: "a" });
}

async function hostPhase(): Promise<void> {
  const log = await openLog("host");
  await step("Debian packages: Docker engine, libseccomp, debootstrap", () => ensureHostPackages(log));
  await step(`build ${BUILDS.ociCapFilter.id}`, () => ensureBuilt(BUILDS.ociCapFilter, log));
  let changed = false;
  await step("Docker runtime for privileged nodes", async () => {
    const r = await ensureDaemonConfig();
    changed = r.changed;
    if (r.filtered.length > 0 && r.changed) {
      console.log(
        `  capabilities ${r.filtered.join(", ")} are outside this host's bounding set: containers run without them`,
      );
    }
    return r.changed ? undefined : "cached";
  });
  await step("dockerd running", () => ensureDockerd(changed, logFile("dockerd")));
  await step("inotify limits", () => ensureInotify());
  await step("no container traffic leaves this machine (DOCKER-USER reject)", () => ensureRejectRule());
}

// Longest first on a busy machine matters less than needing each early: host tools, then the node, then the fleet.
const BUILD_ORDER: BuildName[] = [
  "kind",
  "kubernetes",
  "helm",
  "containerd",
  "runc",
  "crictl",
  "cni",
  "coredns",
  "etcd",
  "localPath",
  "kindnetStandIn",
  "prometheusK8s",
  "operator",
  "nodeExporter",
  "certManager",
];

async function buildPhase(): Promise<void> {
  const log = await openLog("go-build");
  console.log(`Go builds log to ${logFile("go-build")}`);
  for (const name of BUILD_ORDER)
    await step(`build ${BUILDS[name].id}`, () => ensureBuilt(BUILDS[name], log));
  const skipped: string[] = [];
  await step("kind, helm, kubectl linked", () => ensureHostBinLinks(skipped));
  for (const s of skipped) console.log(`  ${s} exists and is not ours: left alone`);
}

async function buildOnly(names: string[]): Promise<void> {
  const known = Object.keys(BUILDS);
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(
      `--build takes the names of Go builds (${known.join(", ")})${unknown.length > 0 ? `, not ${unknown.join(", ")}` : ""}`,
    );
  }
  const log = await openLog("go-build");
  console.log(`Go builds log to ${logFile("go-build")}`);
  for (const name of names as BuildName[])
    await step(`build ${BUILDS[name].id}`, () => ensureBuilt(BUILDS[name], log));
}

async function imagePhase(): Promise<void> {
  const log = await openLog("images");
  for (const b of Object.values(PREBUILT)) {
    if (!existsSync(prebuiltPath(b))) {
      throw new Error(`${prebuiltPath(b)} is missing: build it first (npm run binaries -- ${b.name})`);
    }
  }
  await step("Debian base for the node (debootstrap)", () => ensureDebootstrap(log));
  await step(`node image ${NODE_IMAGE}`, () => ensureNodeImage(log));
  const work = join(kindHostDir(), "images");
  const shell = await busyboxFiles(await ensureBusybox(log));
  for (const img of [...fleetImages(shell), certManagerImage()])
    await step(`image ${img.ref}`, () => ensureImage(img, work));
}

async function chartPhase(): Promise<string | undefined> {
  let result: "cached" | "missing" | undefined;
  await step(`kube-prometheus-stack chart`, async () => {
    result = await ensureKpsChart(hostBinaries().helm);
    return result === "missing" ? "cached" : result;
  });
  if (result === "missing") {
    console.log(
      `  not assembled: set KIND_HOST_PROMETHEUS_CHARTS and KIND_HOST_GRAFANA_CHARTS to clones of\n` +
        `  prometheus-community/helm-charts and grafana-community/helm-charts, then run kind:host again`,
    );
    return undefined;
  }
  return kpsChartDir();
}

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  if (args.has("--check-egress")) {
    const ok = await rejectRuleInPlace();
    console.log(
      ok ? "DOCKER-USER rejects forwarding to the default-route interface" : "no DOCKER-USER reject rule",
    );
    process.exitCode = ok ? 0 : 1;
    return;
  }
  if (args.has("--build")) {
    await buildOnly(process.argv.slice(process.argv.indexOf("--build") + 1));
    return;
  }
  const start = Date.now();
  await hostPhase();
  if (!args.has("--smoke-only")) {
    await buildPhase();
    await imagePhase();
  }
  const chart = await chartPhase();
  if (!args.has("--no-smoke")) {
    await smokeTest({
      kind: hostBinaries().kind,
      kubectl: hostBinaries().kubectl,
      image: "quay.io/thanos/thanos:v0.42.4",
      imageArgs: ["--version"],
    });
  }
  console.log(`\nkind:host done in ${seconds(Date.now() - start)}`);
  console.log(`  PATH=${hostBinDir()}:$PATH   (kind, helm, kubectl)`);
  console.log(`  node image: ${NODE_IMAGE} (fleet.yaml: versions.kindNodeImage: ${NODE_IMAGE})`);
  if (chart) console.log(`  E2E_KPS_CHART=${chart}`);
  console.log(`  logs: ${dirname(logFile("x"))}`);
  const slow = timings.filter((t) => t.status !== "cached");
  if (slow.length > 0) {
    console.log("timings:");
    for (const t of slow)
      console.log(`  ${seconds(t.ms).padStart(12)}  ${t.step}${t.status === "failed" ? " (failed)" : ""}`);
  }
}

main().catch((err: unknown) => {
  console.error(`\nkind:host: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
