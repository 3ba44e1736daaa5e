// The `compactor` check: the one compactor runs and has not halted (it halts, silently, on overlapping blocks).
import { COMPACTOR_POD } from "../../components/thanos/compact.ts";
import { metricValue } from "../../probes/metrics.ts";
import { inspectHint, target } from "../expect.ts";
import { type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, fail, pass, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const COMPACTOR: CheckInfo = { id: "compactor", title: "compactor running, not halted" };

export async function checkCompactor(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const mgmt = topology.observer.name;
  const pod = COMPACTOR_POD;
  const hint = inspectHint(topology, endpoints, mgmt, pod, "thanos-compact");
  const t = target(endpoints, mgmt, "compact", pod);
  if (!t) {
    return fail(COMPACTOR, [
      {
        what: `the runtime reports no ${pod}`,
        cause: "the compactor is not deployed",
        fix: "bring the fleet up with `thanos-fleet up`",
      },
    ]);
  }
  let samples: Awaited<ReturnType<Probe["metrics"]>>;
  try {
    samples = await probe.metrics(t);
  } catch (error) {
    const why = await unavailable(probe, t.url, error, "the compactor", "the compactor is not running");
    return fail(COMPACTOR, [
      {
        what: `${pod} unreachable at ${t.url}: ${reason(error)}`,
        cause: `${why.cause}: blocks are neither compacted, downsampled nor deleted after retention`,
        fix: why.fix ?? hint,
      },
    ]);
  }
  const halted = metricValue(samples, "thanos_compact_halted");
  const iterations = metricValue(samples, "thanos_compact_iterations_total") ?? 0;
  if (halted === undefined) {
    return fail(COMPACTOR, [
      {
        what: `${t.url}/metrics has no thanos_compact_halted`,
        cause: "the process at this address is not a Thanos compactor",
        fix: hint,
      },
    ]);
  }
  if (halted > 0) {
    return fail(COMPACTOR, [
      {
        what: `${pod} halted (thanos_compact_halted=${halted}) after ${iterations} iterations`,
        cause:
          "the compactor hit an error it will not retry, typically overlapping blocks from two Prometheus with the same external labels",
        fix: `${hint}; mark the blocks it names with \`thanos tools bucket mark --marker=no-compact-mark.json\` or delete them, then restart the compactor`,
      },
    ]);
  }
  const todo = metricValue(samples, "thanos_compact_todo_compactions") ?? 0;
  return pass(COMPACTOR, `${pod}: not halted, ${iterations} iterations, ${todo} compactions to do`);
}
