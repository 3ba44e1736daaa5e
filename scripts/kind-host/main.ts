// npm run kind:host: prepares this machine for real kind clusters offline.
//
// Docker with the runtime privileged nodes need here, no container traffic leaving the machine, kind/helm/kubectl
// for the host, the kind node image and every image the fleet runs, built from the Go module proxy. Everything is
// cached by name and version outside the repository; a second run only checks. `up` never runs this.

import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { ensureDaemonConfig, ensureDockerd, ensureDockerInstalled, ensureInotify } from "./docker.ts";
import { ensureRejectRule } from "./egress.ts";
import { BUILDS, ensureBuilt } from "./gobuild.ts";
import { logFile } from "./paths.ts";
import { seconds, step, timings } from "./progress.ts";

async function openLog(name: string): Promise<NodeJS.WritableStream> {
  const path = logFile(name);
  await mkdir(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: "a" });
}

async function hostPhase(): Promise<void> {
  const log = await openLog("host");
  await step("Docker engine installed", () => ensureDockerInstalled(log));
  await step(`build ${BUILDS.ociCapFilter.id}`, () => ensureBuilt(BUILDS.ociCapFilter, log));
  let changed = false;
  await step("Docker runtime for privileged nodes", async () => {
    const r = await ensureDaemonConfig();
    changed = r.changed;
    if (r.filtered.length > 0 && r.changed)
      console.log(
        `  capabilities ${r.filtered.join(", ")} are outside this host's bounding set: containers run without them`,
      );
    return r.changed ? undefined : "cached";
  });
  await step("dockerd running", () => ensureDockerd(changed, logFile("dockerd")));
  await step("inotify limits", () => ensureInotify());
  await step("no container traffic leaves this machine (DOCKER-USER reject)", () => ensureRejectRule());
}

async function main(): Promise<void> {
  const start = Date.now();
  await hostPhase();
  console.log(`kind:host done in ${seconds(Date.now() - start)}`);
  void timings;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
