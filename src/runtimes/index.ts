// Picks a runtime by name; each is loaded only when used.
import { RUNTIME_NAMES, type RuntimeName } from "../state/runtime.ts";
import type { Runtime } from "./runtime.ts";

export const runtimeNames = RUNTIME_NAMES;

export async function runtimeFor(name: RuntimeName): Promise<Runtime> {
  if (name === "local") return (await import("./local/index.ts")).localRuntime;
  return (await import("./kube/index.ts")).kubeRuntime;
}
