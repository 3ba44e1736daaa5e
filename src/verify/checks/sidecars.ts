// The `sidecars` check: each sidecar sees its Prometheus up, and that Prometheus carries the external labels
// fleet.yaml gives it.
import { parse } from "yaml";
import { prometheusLabels } from "../../components/thanos/sidecar.ts";
import { describeLabels, inspectHint, sameLabels, sidecarWorkloads, target } from "../expect.ts";
import { type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, plural, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";
import { readStores } from "./stores.ts";

export const SIDECARS: CheckInfo = { id: "sidecars", title: "sidecars see Prometheus, labels as configured" };

/**
 * The top-level `global:` block of a Prometheus configuration as Prometheus prints it (top-level keys at column 0):
 * parsing only it, not every scrape config, keeps verify's time per replica small in a big fleet.
 */
export function globalSection(yaml: string): string {
  const lines = yaml.split("\n");
  const start = lines.findIndex((l) => /^global:/.test(l));
  if (start < 0) return "";
  let end = start + 1;
  while (end < lines.length && /^(\s|#|$)/.test(lines[end] as string)) end++;
  return lines.slice(start, end).join("\n");
}

/** External labels from Prometheus's own /api/v1/status/config, or those the sidecar advertises to query. */
async function externalLabels(probe: Probe, cluster: string, pod: string, sidecarGrpc?: string) {
  const prom = target(probe.endpoints, cluster, "prometheus", pod);
  if (prom) {
    const { yaml } = await probe.api<{ yaml: string }>(prom.url, "/api/v1/status/config");
    const config = parse(globalSection(yaml)) as {
      global?: { external_labels?: Record<string, string> };
    } | null;
    return { labels: config?.global?.external_labels ?? {}, from: "Prometheus config" };
  }
  const { views } = await readStores(probe);
  const entry = views.flatMap((v) => v.entries).find((s) => s.name === sidecarGrpc && s.labelSets.length > 0);
  return entry ? { labels: entry.labelSets[0] ?? {}, from: "the sidecar's StoreAPI" } : undefined;
}

export async function checkSidecars(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const problems: CheckProblem[] = [];
  let checked = 0;
  const sources = new Set<string>();
  await Promise.all(
    sidecarWorkloads(topology).flatMap((w) =>
      w.replicaNames.map(async (pod) => {
        const hint = inspectHint(topology, endpoints, w.name, pod, "thanos-sidecar");
        const t = target(endpoints, w.name, "sidecar", pod);
        const name = `${w.name}/${pod}`;
        if (!t) {
          problems.push({
            what: `the runtime reports no sidecar ${name}`,
            cause: "the Prometheus replica is not running",
            fix: "bring the fleet up with `thanos-fleet up`",
          });
          return;
        }
        // Prometheus's labels are read while the sidecar's metrics page is: used only if the sidecar sees it up.
        const labels = externalLabels(probe, w.name, pod, t.grpc);
        labels.catch(() => {});
        try {
          const up = await probe.metric(t, "thanos_sidecar_prometheus_up");
          if (up !== 1) {
            problems.push({
              what: `sidecar ${name} reports its Prometheus ${up === undefined ? "unknown (no thanos_sidecar_prometheus_up)" : "down"}`,
              cause: "Prometheus next to the sidecar is not running or not ready",
              fix: inspectHint(topology, endpoints, w.name, pod, "prometheus"),
            });
            return;
          }
        } catch (error) {
          const why = await unavailable(probe, t.url, error, "the sidecar", "the sidecar is down");
          problems.push({
            what: `sidecar ${name} unreachable at ${t.url}: ${reason(error)}`,
            cause: why.cause,
            fix: why.fix ?? hint,
          });
          return;
        }
        const want = prometheusLabels(w, pod);
        try {
          const got = await labels;
          if (!got) return;
          sources.add(got.from);
          checked++;
          if (!sameLabels(got.labels, want)) {
            problems.push({
              what: `${name} has external labels ${describeLabels(got.labels)} (${got.from}), expected ${describeLabels(want)}`,
              cause:
                "Prometheus runs with other external labels than fleet.yaml gives it: dedup and the compactor depend on them",
              fix: `re-apply the configuration with \`thanos-fleet up\`; ${inspectHint(topology, endpoints, w.name, pod, "prometheus")}`,
            });
          }
        } catch (error) {
          const prom = target(endpoints, w.name, "prometheus", pod);
          const why = prom
            ? await unavailable(probe, prom.url, error, "Prometheus", "Prometheus is down")
            : { cause: "Prometheus is down", fix: undefined };
          problems.push({
            what: `Prometheus ${name} did not answer /api/v1/status/config: ${reason(error)}`,
            cause: why.cause,
            fix: why.fix ?? inspectHint(topology, endpoints, w.name, pod, "prometheus"),
          });
        }
      }),
    ),
  );
  if (problems.length > 0) return fail(SIDECARS, problems);
  const total = sidecarWorkloads(topology).reduce((n, w) => n + w.replicaNames.length, 0);
  return pass(
    SIDECARS,
    `${plural(total, "sidecar")} see Prometheus up; external labels as configured (${checked} checked in ${[...sources].join(" and ") || "nothing"})`,
  );
}
