// kind, helm and kubectl for this host: linked into one directory the e2e and users put on PATH, and into
// /usr/local/bin when running as root and nothing else is there.

import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "./docker.ts";
import { BUILDS, binaryPath } from "./gobuild.ts";
import { hostBinDir } from "./paths.ts";

export function hostBinaries(): { kind: string; helm: string; kubectl: string } {
  return {
    kind: binaryPath(BUILDS.kind, "kind"),
    helm: binaryPath(BUILDS.helm, "helm"),
    kubectl: binaryPath(BUILDS.kubernetes, "kubectl"),
  };
}

function linksTo(link: string, target: string): boolean {
  try {
    return lstatSync(link).isSymbolicLink() && readlinkSync(link) === target;
  } catch {
    return false;
  }
}

/** Links each binary; resolves to "cached" when every link was already right. Lists links it did not make. */
export async function ensureHostBinLinks(skipped: string[]): Promise<"cached" | undefined> {
  let changed = false;
  await mkdir(hostBinDir(), { recursive: true });
  for (const [name, target] of Object.entries(hostBinaries())) {
    const link = join(hostBinDir(), name);
    if (!linksTo(link, target)) {
      await rm(link, { force: true });
      await symlink(target, link);
      changed = true;
    }
    if (!isRoot()) continue;
    const global = join("/usr/local/bin", name);
    if (linksTo(global, target)) continue;
    // Another kind/helm/kubectl installed there is the user's: left alone.
    if (existsSync(global) && !lstatSync(global).isSymbolicLink()) {
      skipped.push(global);
      continue;
    }
    await rm(global, { force: true });
    await symlink(target, global);
    changed = true;
  }
  return changed ? undefined : "cached";
}
