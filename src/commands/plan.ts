// PLACEHOLDER until plan lands.
import type { Topology } from "../topology/topology.ts";
export async function planCommand(_t: Topology, _opts: { stateDir: string }): Promise<void> {
  throw new Error("plan is not built yet");
}
