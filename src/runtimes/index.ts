// Picks a runtime by name; each is loaded only when used.
import type { Runtime } from "./runtime.ts";

export const runtimeNames = ["kubernetes", "local"] as const;

export async function runtimeFor(name: string): Promise<Runtime> {
  if (name === "local") return (await import("./local/index.ts")).localRuntime;
  return (await import("./kube/index.ts")).kubeRuntime;
}
