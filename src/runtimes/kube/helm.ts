// Helm, driven through the process seam: kube-prometheus-stack installed, upgraded only when its values changed.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse } from "yaml";
import { CHART, CHART_REPO } from "../../render/helm.ts";
import { FILES } from "../../render/runbook.ts";
import { stringify } from "../../yaml.ts";
import { type Exec, ExecError, type RunOptions } from "./exec.ts";
import { parseVersion } from "./preflight.ts";
import { kubeDir } from "./state.ts";

export interface Release {
  name: string;
  namespace: string;
  context: string;
}

interface ListedRelease {
  name: string;
  status: string;
  chart: string;
  revision: string;
}

const target = (r: Release) => ["--kube-context", r.context, "--namespace", r.namespace];

const majors = new WeakMap<Exec, Promise<number>>();

/** Records what `helm version --short` printed (preflight asks it): then nobody asks again. */
export function rememberHelmVersion(exec: Exec, stdout: string): void {
  const v = parseVersion(stdout);
  if (v) majors.set(exec, Promise.resolve(v[0]));
}

/** Helm's major version, asked once per process seam. */
export function helmMajor(exec: Exec, opts: RunOptions = {}): Promise<number> {
  let major = majors.get(exec);
  if (!major) {
    major = exec.run("helm", ["version", "--short"], { signal: opts.signal }).then(({ stdout }) => {
      const v = parseVersion(stdout);
      if (!v) throw new Error(`cannot read Helm's version from 'helm version --short': ${stdout.trim()}`);
      return v[0];
    });
    // A failed attempt (helm not yet installed, a signal) is asked again next time.
    major.catch(() => majors.delete(exec));
    majors.set(exec, major);
  }
  return major;
}

export async function findRelease(
  exec: Exec,
  r: Release,
  opts: RunOptions = {},
): Promise<ListedRelease | undefined> {
  // Helm 3 lists only deployed and failed releases unless told --all; Helm 4 lists every state and has no --all.
  const all = (await helmMajor(exec, opts)) < 4 ? ["--all"] : [];
  const { stdout } = await exec.run(
    "helm",
    ["list", ...target(r), "--filter", `^${r.name}$`, ...all, "--output", "json"],
    opts,
  );
  const rows = JSON.parse(stdout || "[]") as ListedRelease[];
  return rows.find((row) => row.name === r.name);
}

/** The user-supplied values of a release, as Helm stored them. */
export async function releaseValues(exec: Exec, r: Release, opts: RunOptions = {}): Promise<unknown> {
  const { stdout } = await exec.run(
    "helm",
    ["get", "values", r.name, ...target(r), "--output", "json"],
    opts,
  );
  return JSON.parse(stdout || "null");
}

/** Whether the release is deployed from this chart version with exactly these values: then there is nothing to do. */
export async function releaseUpToDate(
  exec: Exec,
  r: Release,
  chartVersion: string,
  values: Record<string, unknown>,
  opts: RunOptions = {},
): Promise<boolean> {
  const listed = await findRelease(exec, r, opts);
  const chart = `${CHART.split("/")[1]}-${chartVersion}`;
  if (listed?.status !== "deployed" || listed.chart !== chart) return false;
  // Helm read the values from the YAML file; compare with what that file says.
  return isDeepStrictEqual(await releaseValues(exec, r, opts), parse(stringify(values)));
}

export function valuesFile(stateDir: string, cluster: string): string {
  return join(kubeDir(stateDir), cluster, FILES.values);
}

export async function writeValues(
  stateDir: string,
  cluster: string,
  values: Record<string, unknown>,
): Promise<string> {
  const file = valuesFile(stateDir, cluster);
  await mkdir(join(kubeDir(stateDir), cluster), { recursive: true, mode: 0o700 });
  // Helm reads values as YAML 1.1: on, off, yes and no must stay strings.
  await writeFile(file, stringify(values), { mode: 0o600 });
  return file;
}

export const REPO_NAME = CHART.split("/")[0] as string;

/** Adds (or refreshes) the chart repository; --force-update also downloads its current index. */
export async function addRepo(exec: Exec, opts: RunOptions = {}): Promise<void> {
  await exec.run("helm", ["repo", "add", REPO_NAME, CHART_REPO, "--force-update"], opts);
}

/** The chart from the repository at a version, or a local chart directory or .tgz (whose Chart.yaml has the version). */
export type ChartSource = { chart: string; local: boolean };

export async function upgradeInstall(
  exec: Exec,
  r: Release,
  source: ChartSource,
  chartVersion: string,
  file: string,
  timeout: string,
  opts: RunOptions = {},
): Promise<void> {
  await exec.run(
    "helm",
    [
      "upgrade",
      "--install",
      r.name,
      source.chart,
      ...(source.local ? [] : ["--version", chartVersion]),
      ...target(r),
      "--values",
      file,
      "--wait",
      "--timeout",
      timeout,
    ],
    opts,
  );
}

/** Uninstalls a release; one that is already gone is not an error. */
export async function uninstall(exec: Exec, r: Release, opts: RunOptions = {}): Promise<boolean> {
  try {
    await exec.run("helm", ["uninstall", r.name, ...target(r)], opts);
    return true;
  } catch (error) {
    if (error instanceof ExecError && /not found/i.test(error.stderr)) return false;
    throw error;
  }
}
