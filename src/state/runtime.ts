// Which runtime the state dir's fleet was brought up with: `up` records it once it starts writing, and every verb
// uses it when no --runtime is given, so a local fleet is not reported as an empty Kubernetes one.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { readJsonFile, writeJsonFile } from "./json-file.ts";

export const RUNTIME_NAMES = ["kubernetes", "local"] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** Without a --runtime and without a record: the Kubernetes runtime. */
export const DEFAULT_RUNTIME: RuntimeName = "kubernetes";

export function runtimeFile(stateDir: string): string {
  return join(stateDir, "runtime.json");
}

function isRuntimeName(value: unknown): value is RuntimeName {
  return RUNTIME_NAMES.includes(value as RuntimeName);
}

/** Writes the record (the state dir exists: the runtime made it). */
export async function recordRuntime(stateDir: string, runtime: RuntimeName): Promise<void> {
  await writeJsonFile(runtimeFile(stateDir), { runtime });
}

/** The runtime the last `up` from this state dir used, or undefined when none is recorded. */
export async function recordedRuntime(stateDir: string): Promise<RuntimeName | undefined> {
  const file = runtimeFile(stateDir);
  const record = await readJsonFile(file, {
    validate: (value) => {
      const runtime = (value as { runtime?: unknown } | null)?.runtime;
      if (!isRuntimeName(runtime)) throw new Error(`runtime: ${JSON.stringify(runtime)}`);
      return runtime;
    },
    unreadable: `${file} cannot be read; check its permissions, or pass --runtime`,
    damaged: `${file} does not name a runtime (${RUNTIME_NAMES.join(" or ")}); pass --runtime, or delete the file`,
  });
  return record;
}

/** Removes the record when it names this runtime (`down --purge`); a record of another runtime stays. */
export async function forgetRuntime(stateDir: string, runtime: RuntimeName): Promise<void> {
  if ((await recordedRuntime(stateDir).catch(() => undefined)) !== runtime) return;
  await rm(runtimeFile(stateDir), { force: true });
}

/**
 * The runtime a verb acts on: the one the state dir records, else --runtime, else the default. A --runtime that
 * contradicts the record is a usage error (exit 2) raised before anything is done: acting on the other runtime
 * would report an empty fleet, or build a second one over the first's state. A damaged record gives way to
 * --runtime.
 */
export async function chooseRuntime(given: string | undefined, stateDir: string): Promise<RuntimeName> {
  if (given !== undefined && !isRuntimeName(given)) {
    throw Object.assign(new Error(`--runtime ${given}: use ${RUNTIME_NAMES.join(" or ")}`), { exitCode: 2 });
  }
  if (given === undefined) return (await recordedRuntime(stateDir)) ?? DEFAULT_RUNTIME;
  const recorded = await recordedRuntime(stateDir).catch(() => undefined);
  if (recorded !== undefined && recorded !== given) {
    throw Object.assign(
      new Error(
        `the state dir ${stateDir} holds a ${recorded} fleet (recorded by up); --runtime ${given} contradicts it: ` +
          `drop --runtime, or use another --state-dir ('thanos-fleet down --purge' empties this one)`,
      ),
      { exitCode: 2 },
    );
  }
  return given;
}
