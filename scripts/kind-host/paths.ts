// Where kind:host keeps what it makes: outside the repository, beside the binary cache.

import { dirname, join } from "node:path";
import { binCacheDir } from "../../src/binaries/cache.ts";

/** `<cache>/kind-host`: logs, the node image's build directory, the assembled chart. */
export function kindHostDir(): string {
  return join(dirname(binCacheDir()), "kind-host");
}

export function logFile(name: string): string {
  return join(kindHostDir(), "logs", `${name}.log`);
}

/** Where the host's kind, helm and kubectl are linked, printed for the e2e and users. */
export function hostBinDir(): string {
  return join(kindHostDir(), "bin");
}

export function chartsDir(): string {
  return join(dirname(binCacheDir()), "charts");
}
