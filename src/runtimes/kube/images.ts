// Images in kind nodes, through the process seam: which a node's containerd holds (crictl), and loading an archive.
import { normalizeImage } from "../../render/images.ts";
import type { Exec, RunOptions } from "./exec.ts";

/** The node containers of a kind cluster. */
export async function kindNodes(exec: Exec, cluster: string, opts: RunOptions = {}): Promise<string[]> {
  const { stdout } = await exec.run("kind", ["get", "nodes", "--name", cluster], opts);
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The images a node's containerd holds for Kubernetes (normalized names). */
export async function nodeImages(exec: Exec, node: string, opts: RunOptions = {}): Promise<Set<string>> {
  const { stdout } = await exec.run("docker", ["exec", node, "crictl", "images", "--output", "json"], opts);
  const listed = JSON.parse(stdout || "{}") as { images?: { repoTags?: string[] | null }[] };
  return new Set((listed.images ?? []).flatMap((i) => i.repoTags ?? []).map(normalizeImage));
}

/** Imports the archive into every node of the cluster (kind runs `ctr images import` in each). */
export async function loadImageArchive(
  exec: Exec,
  file: string,
  cluster: string,
  opts: RunOptions = {},
): Promise<void> {
  await exec.run("kind", ["load", "image-archive", file, "--name", cluster], opts);
}
