// kube-prometheus-stack 88.5.3 with its dependencies in charts/, assembled from local clones of the chart
// repositories (no chart repository is reachable from a test host). Nothing fetched enters the repository.
//
// KIND_HOST_PROMETHEUS_CHARTS: a clone (or bare git directory) of prometheus-community/helm-charts;
// KIND_HOST_GRAFANA_CHARTS: one of grafana-community/helm-charts. Each chart is taken at its release tag.

import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { chartsDir } from "./paths.ts";
import { run } from "./run.ts";

export const KPS_VERSION = "88.5.3";

interface ChartSource {
  name: string;
  version: string;
  repoEnv: "KIND_HOST_PROMETHEUS_CHARTS" | "KIND_HOST_GRAFANA_CHARTS";
}

const KPS: ChartSource = {
  name: "kube-prometheus-stack",
  version: KPS_VERSION,
  repoEnv: "KIND_HOST_PROMETHEUS_CHARTS",
};
// kube-prometheus-stack 88.5.3's Chart.yaml dependencies (crds is inside the chart already).
const DEPENDENCIES: ChartSource[] = [
  { name: "kube-state-metrics", version: "8.4.0", repoEnv: "KIND_HOST_PROMETHEUS_CHARTS" },
  { name: "prometheus-node-exporter", version: "4.56.1", repoEnv: "KIND_HOST_PROMETHEUS_CHARTS" },
  { name: "prometheus-windows-exporter", version: "0.12.8", repoEnv: "KIND_HOST_PROMETHEUS_CHARTS" },
  { name: "grafana", version: "12.11.1", repoEnv: "KIND_HOST_GRAFANA_CHARTS" },
];

export function kpsChartDir(): string {
  return join(chartsDir(), `kube-prometheus-stack-${KPS_VERSION}`);
}

const MARKER = ".assembled";

function marker(): string {
  return [KPS, ...DEPENDENCIES].map((c) => `${c.name} ${c.version}`).join("\n");
}

async function extract(c: ChartSource, dest: string): Promise<void> {
  const repo = process.env[c.repoEnv];
  if (!repo) throw new Error(`${c.repoEnv} is not set`);
  const tag = `${c.name}-${c.version}`;
  const tar = `${dest}.tar`;
  await mkdir(dirname(dest), { recursive: true });
  await run("git", ["-C", repo, "archive", "--format=tar", "-o", tar, tag, `charts/${c.name}`]).catch(
    (err: Error) => {
      throw new Error(`${c.repoEnv}=${repo} has no tag ${tag} with charts/${c.name}`, { cause: err });
    },
  );
  await mkdir(dest, { recursive: true });
  await run("tar", ["-xf", tar, "-C", dest, "--strip-components=2"]);
  await rm(tar, { force: true });
}

/**
 * Assembles the chart under the charts cache unless it is there. Resolves to "cached", to undefined when it was
 * assembled, or to "missing" when it is absent and the repository variables are not set.
 */
export async function ensureKpsChart(helm: string): Promise<"cached" | "missing" | undefined> {
  const dir = kpsChartDir();
  if (existsSync(join(dir, MARKER)) && (await readFile(join(dir, MARKER), "utf8")) === marker())
    return "cached";
  if (!process.env.KIND_HOST_PROMETHEUS_CHARTS || !process.env.KIND_HOST_GRAFANA_CHARTS) return "missing";
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await extract(KPS, tmp);
  for (const dep of DEPENDENCIES) await extract(dep, join(tmp, "charts", dep.name));
  // The chart's own defaults with every dependency on: each subchart must render.
  await run(helm, [
    "template",
    "kps",
    tmp,
    "--namespace",
    "monitoring",
    "--set",
    "windowsMonitoring.enabled=true",
  ]);
  await writeFile(join(tmp, MARKER), marker());
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return undefined;
}
