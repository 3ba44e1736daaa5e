// PLACEHOLDER until render lands.
import type { Topology } from "../topology/topology.ts";
export async function renderCommand(_t: Topology, _opts: { out: string; stateDir: string }): Promise<void> {
  throw new Error("render is not built yet");
}
