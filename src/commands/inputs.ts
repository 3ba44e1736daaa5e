// What render and plan refuse before they write or print anything: files fleet.yaml names that are not there, and a
// local chart that is not the pinned kube-prometheus-stack (what up's preflight refuses too).
import { localChartFindings } from "../runtimes/kube/airgap.ts";
import { checkNamedFiles } from "../topology/files.ts";
import { type Topology, topologyError } from "../topology/topology.ts";

export async function checkRenderInputs(topology: Topology): Promise<void> {
  await checkNamedFiles(topology);
  const [problem] = (await localChartFindings(topology)).problems;
  if (problem) throw topologyError(topology, ["chart", "path"], problem.message, problem.fix);
}
