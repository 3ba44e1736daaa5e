// What the Prometheus Operator makes of the values: the chart's Prometheus object, and the external labels the
// operator writes into each replica's configuration (the labels its sidecar then announces to query).
import { NAMESPACE } from "../../src/components/context.ts";
import { RELEASE } from "../../src/render/helm.ts";

/** The operator puts this into external_labels; the pod's env var expands it to the replica's pod name. */
export const OPERATOR_POD_NAME = "$(POD_NAME)";

/** The part of the Prometheus object that decides its external labels. */
export interface ChartPrometheus {
  metadata: { name: string; namespace: string };
  spec: {
    externalLabels?: Record<string, string>;
    prometheusExternalLabelName?: string;
    replicaExternalLabelName?: string;
  };
}

interface PrometheusSpecValues {
  externalLabels?: Record<string, string>;
  prometheusExternalLabelName?: string;
  prometheusExternalLabelNameClear?: boolean;
  replicaExternalLabelName?: string;
  replicaExternalLabelNameClear?: boolean;
}

/**
 * The Prometheus object kube-prometheus-stack 88 renders from these values (templates/prometheus/prometheus.yaml):
 * a `...Clear` flag sets the name to "", a non-empty name is passed on, anything else leaves the operator's default.
 */
export function chartPrometheus(values: Record<string, unknown>): ChartPrometheus {
  const spec =
    (values.prometheus as { prometheusSpec?: PrometheusSpecValues } | undefined)?.prometheusSpec ?? {};
  const name = (clear?: boolean, value?: string) => (clear ? "" : value ? value : undefined);
  const prometheusName = name(spec.prometheusExternalLabelNameClear, spec.prometheusExternalLabelName);
  const replicaName = name(spec.replicaExternalLabelNameClear, spec.replicaExternalLabelName);
  return {
    metadata: { name: `${values.fullnameOverride ?? RELEASE}-prometheus`, namespace: NAMESPACE },
    spec: {
      ...(spec.externalLabels ? { externalLabels: spec.externalLabels } : {}),
      ...(prometheusName !== undefined ? { prometheusExternalLabelName: prometheusName } : {}),
      ...(replicaName !== undefined ? { replicaExternalLabelName: replicaName } : {}),
    },
  };
}

/**
 * The operator's external labels for a Prometheus object (buildExternalLabels in pkg/prometheus/promcfg.go, v0.93):
 * `prometheus="<namespace>/<name>"` and `prometheus_replica="$(POD_NAME)"` unless their names are set to "", then
 * the object's own labels, which cannot override those two.
 */
export function operatorExternalLabels(p: ChartPrometheus): Record<string, string> {
  const labels: Record<string, string> = {};
  const prometheusName = p.spec.prometheusExternalLabelName ?? "prometheus";
  if (prometheusName !== "") labels[prometheusName] = `${p.metadata.namespace}/${p.metadata.name}`;
  const replicaName = p.spec.replicaExternalLabelName ?? "prometheus_replica";
  if (replicaName !== "") labels[replicaName] = OPERATOR_POD_NAME;
  for (const [k, v] of Object.entries(p.spec.externalLabels ?? {})) {
    if (!(k in labels)) labels[k] = v;
  }
  return labels;
}

/** The labels one replica runs with, its pod name expanded. */
export function atPod(labels: Record<string, string>, pod: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).map(([k, v]) => [k, v.replaceAll(OPERATOR_POD_NAME, pod)]),
  );
}
