// PLACEHOLDER until verify lands.
import type { Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
export async function verifyCommand(
  _r: Runtime,
  _t: Topology,
  _opts: { stateDir: string; json: boolean; wait?: string },
): Promise<number> {
  throw new Error("verify is not built yet");
}
