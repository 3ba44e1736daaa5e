// Preflight for air-gapped installs: the image archive holds every image the kind nodes run, the kind node image is
// in Docker, and a local kube-prometheus-stack chart is there, complete, at the pinned version.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { archiveImages } from "../../images/archive.ts";
import { chartSource, RELEASE } from "../../render/helm.ts";
import { fleetImages, normalizeImage } from "../../render/images.ts";
import type { RenderedCluster } from "../../render/types.ts";
import { readTgzEntry } from "../../tar.ts";
import type { Topology } from "../../topology/topology.ts";
import { type Exec, ExecError } from "./exec.ts";
import type { PreflightProblem } from "./preflight.ts";

export interface Findings {
  problems: PreflightProblem[];
  facts: string[];
  warnings: string[];
}

const uses = (u: { cluster: string; component: string }[]) =>
  u.map((x) => `${x.cluster}/${x.component}`).join(", ");

async function inDocker(exec: Exec, image: string): Promise<boolean> {
  try {
    await exec.run("docker", ["image", "inspect", "--format", "{{.Id}}", image]);
    return true;
  } catch (error) {
    if (error instanceof ExecError && /no such image/i.test(`${error.stderr}${error.stdout}`)) return false;
    throw error;
  }
}

/** Every image the kind clusters run is in the archive, and the kind node image is in Docker. */
export async function imageArchiveFindings(
  topology: Topology,
  clusters: RenderedCluster[],
  exec: Exec,
  archive: string,
): Promise<Findings> {
  const out: Findings = { problems: [], facts: [], warnings: [] };
  const kinds = clusters.filter((c) => c.kindConfig);
  if (kinds.length === 0) {
    out.warnings.push(
      `image archive ${archive} is loaded into kind clusters only, and this fleet has none; existing clusters pull their images (images.registry names a mirror)`,
    );
    return out;
  }
  let held: Set<string>;
  try {
    held = await archiveImages(archive);
  } catch (error) {
    out.problems.push({
      check: "images",
      message: (error as Error).message,
      fix: `run 'thanos-fleet images save ${archive}' on a machine whose Docker has the images`,
    });
    return out;
  }
  const needed = fleetImages(topology, kinds);
  for (const i of needed.filter((x) => !x.kindNode && !held.has(normalizeImage(x.image)))) {
    out.problems.push({
      check: "images",
      message: `image ${i.image} (${uses(i.usedBy)}) is not in the image archive ${archive}`,
      fix: "save the archive again with 'thanos-fleet images save' where Docker has the image, or turn that component off with kubePrometheusStackValues in fleet.yaml",
    });
  }
  for (const i of needed.filter((x) => x.kindNode)) {
    if (!(await inDocker(exec, i.image))) {
      out.problems.push({
        check: "images",
        message: `the kind node image ${i.image} is not in the local Docker, and kind cannot pull it offline`,
        fix: `'docker save ${i.image.replace(/@sha256:.*$/, "")}' where it can be pulled, then 'docker load' it here`,
      });
    }
  }
  out.facts.push(`image archive ${archive}: ${held.size} images`);
  return out;
}

/** A local chart (chart.path): there, kube-prometheus-stack at the pinned version, its dependencies in charts/. */
export async function localChartFindings(topology: Topology): Promise<Findings> {
  const out: Findings = { problems: [], facts: [], warnings: [] };
  const source = chartSource(topology);
  if (!source.local || topology.workloads.length === 0) return out;
  const path = source.chart;
  const pinned = topology.fleet.versions.kubePrometheusStack;
  const problem = (message: string, fix: string) => out.problems.push({ check: "chart", message, fix });
  const fetchIt = `'helm pull prometheus-community/kube-prometheus-stack --version ${pinned}' where the repository can be reached, and point chart.path in fleet.yaml at the .tgz`;
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (error) {
    problem(
      `the chart ${path} (chart.path in fleet.yaml) cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`,
      fetchIt,
    );
    return out;
  }
  let chartYaml: string | undefined;
  try {
    chartYaml = isDir
      ? await readFile(join(path, "Chart.yaml"), "utf8")
      : (await readTgzEntry(await readFile(path), (n) => /^[^/]+\/Chart\.yaml$/.test(n)))?.toString("utf8");
  } catch (error) {
    problem(
      `the chart ${path} (chart.path) is not a chart directory or .tgz: ${(error as Error).message}`,
      fetchIt,
    );
    return out;
  }
  if (chartYaml === undefined) {
    problem(`the chart ${path} (chart.path) has no Chart.yaml`, fetchIt);
    return out;
  }
  const chart = (parse(chartYaml) ?? {}) as {
    name?: string;
    version?: string;
    dependencies?: { name: string; version?: string }[];
  };
  if (chart.name !== RELEASE) {
    problem(`the chart ${path} (chart.path) is ${chart.name ?? "unnamed"}, not ${RELEASE}`, fetchIt);
    return out;
  }
  if (String(chart.version) !== pinned) {
    problem(
      `the chart ${path} (chart.path) is ${RELEASE} ${chart.version}; fleet.yaml pins versions.kubePrometheusStack ${pinned}`,
      `use the chart of ${pinned}, or set versions.kubePrometheusStack: ${chart.version} in fleet.yaml`,
    );
    return out;
  }
  if (isDir) {
    // Helm refuses a chart directory whose dependencies are not in charts/, whether they are enabled or not.
    const present = await readdir(join(path, "charts")).catch(() => [] as string[]);
    for (const d of chart.dependencies ?? []) {
      if (!present.some((f) => f === d.name || (f.startsWith(`${d.name}-`) && f.endsWith(".tgz")))) {
        problem(
          `the chart directory ${path} (chart.path) lacks its dependency ${d.name} ${d.version ?? ""} in charts/`.trimEnd(),
          `run 'helm dependency build ${path}' where the repositories can be reached, or copy ${d.name}'s chart .tgz into ${join(path, "charts")}`,
        );
      }
    }
  }
  out.facts.push(`chart: ${RELEASE} ${pinned} from ${path}`);
  return out;
}
