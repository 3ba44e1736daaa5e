// kind, driven through the process seam: which clusters exist, the shared Docker network, create and delete.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import type { RenderedCluster } from "../../render/types.ts";
import { type Exec, ExecError, type RunOptions } from "./exec.ts";
import { kubeDir } from "./state.ts";

/** The kind clusters that exist on this machine. */
export async function kindClusters(exec: Exec, opts: RunOptions = {}): Promise<Set<string>> {
  const { stdout } = await exec.run("kind", ["get", "clusters"], opts);
  // "No kind clusters found." goes to stderr; stdout lists one name per line.
  return new Set(
    stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

/** Whether Docker's `kind` network exists: kind creates it with the first cluster, racing when several start at once. */
export async function kindNetworkExists(exec: Exec, opts: RunOptions = {}): Promise<boolean> {
  try {
    await exec.run("docker", ["network", "inspect", "kind", "--format", "{{.Name}}"], opts);
    return true;
  } catch (error) {
    if (error instanceof ExecError && /not found|no such network/i.test(error.stderr)) return false;
    throw error;
  }
}

/** Removes the `kind` network if no container is attached to it any more; whether it was removed. */
export async function removeUnusedKindNetwork(exec: Exec, opts: RunOptions = {}): Promise<boolean> {
  if (!(await kindNetworkExists(exec, opts))) return false;
  const { stdout } = await exec.run(
    "docker",
    ["network", "inspect", "kind", "--format", "{{len .Containers}}"],
    opts,
  );
  if (stdout.trim() !== "0") return false;
  await exec.run("docker", ["network", "rm", "kind"], opts);
  return true;
}

export function kindConfigFile(stateDir: string, cluster: string): string {
  return join(kubeDir(stateDir), cluster, "kind.yaml");
}

/** Writes the rendered kind config where `kind create cluster --config` reads it. */
export async function writeKindConfig(stateDir: string, rc: RenderedCluster): Promise<string> {
  if (!rc.kindConfig) throw new Error(`cluster ${rc.cluster} is not a kind cluster`);
  const file = kindConfigFile(stateDir, rc.cluster);
  await mkdir(join(kubeDir(stateDir), rc.cluster), { recursive: true, mode: 0o700 });
  await writeFile(file, stringify(rc.kindConfig, { version: "1.1" }), { mode: 0o600 });
  return file;
}

export async function createKindCluster(
  exec: Exec,
  name: string,
  configFile: string,
  wait: string,
  opts: RunOptions = {},
): Promise<void> {
  await exec.run("kind", ["create", "cluster", "--name", name, "--config", configFile, "--wait", wait], opts);
}

/** Deletes a kind cluster; kind itself succeeds when it is already gone. */
export async function deleteKindCluster(exec: Exec, name: string, opts: RunOptions = {}): Promise<void> {
  await exec.run("kind", ["delete", "cluster", "--name", name], opts);
}

/** Writes the cluster's context (kind-<name>) into the kubeconfig again. */
export async function exportKubeconfig(exec: Exec, name: string, opts: RunOptions = {}): Promise<void> {
  await exec.run("kind", ["export", "kubeconfig", "--name", name], opts);
}
