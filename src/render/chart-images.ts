// The images kube-prometheus-stack runs for a set of values: which ones, and under which names.
import { isMapping, type Values } from "../topology/values.ts";

interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
}

/** A value that must be true (or false, with `not`) for an image to run; `default` is the chart's own. */
interface Condition {
  path: string[];
  default: boolean;
  not?: boolean;
}

interface ChartImage {
  component: string;
  /** Where the image object (registry, repository, tag) sits in the values. */
  path: string[];
  /** The chart's defaults; an empty tag in the values means this one (the chart's appVersion). */
  default: ImageRef;
  when: Condition[];
  /** prometheus-node-exporter appends `-distroless` to the tag when `image.distroless` is true. */
  distroless?: boolean;
}

const on = (path: string[], value = true): Condition => ({ path, default: value });
const off = (path: string[], value = false): Condition => ({ path, default: value, not: true });
const operator = on(["prometheusOperator", "enabled"]);

/**
 * The images of kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3),
 * read from charts/kube-prometheus-stack/values.yaml and the values of the charts it depends on: kube-state-metrics
 * 8.4.0, prometheus-node-exporter 4.56.1 (both prometheus-community) and grafana 12.11.1 (grafana-community). Empty tags
 * there stand for each chart's appVersion: operator v0.93.1, kube-state-metrics 2.20.0 ("v" added), node-exporter
 * 1.12.1 ("v" added), Grafana 13.2.0. Prometheus, its Thanos sidecar and Alertmanager are not here: the fleet sets
 * their images from its own specs. Review this table when versions.kubePrometheusStack's pin moves.
 */
export const CHART_IMAGES: ChartImage[] = [
  {
    component: "prometheus-operator",
    path: ["prometheusOperator", "image"],
    default: { registry: "quay.io", repository: "prometheus-operator/prometheus-operator", tag: "v0.93.1" },
    when: [operator],
  },
  {
    component: "prometheus-config-reloader",
    path: ["prometheusOperator", "prometheusConfigReloader", "image"],
    default: {
      registry: "quay.io",
      repository: "prometheus-operator/prometheus-config-reloader",
      tag: "v0.93.1",
    },
    when: [operator],
  },
  {
    component: "admission-webhook-certgen",
    path: ["prometheusOperator", "admissionWebhooks", "patch", "image"],
    default: { registry: "ghcr.io", repository: "jkroepke/kube-webhook-certgen", tag: "1.8.7" },
    when: [
      operator,
      on(["prometheusOperator", "admissionWebhooks", "enabled"]),
      on(["prometheusOperator", "admissionWebhooks", "patch", "enabled"]),
      off(["prometheusOperator", "admissionWebhooks", "certManager", "enabled"]),
    ],
  },
  {
    component: "admission-webhook",
    path: ["prometheusOperator", "admissionWebhooks", "deployment", "image"],
    default: { registry: "quay.io", repository: "prometheus-operator/admission-webhook", tag: "v0.93.1" },
    when: [
      operator,
      on(["prometheusOperator", "admissionWebhooks", "enabled"]),
      on(["prometheusOperator", "admissionWebhooks", "deployment", "enabled"], false),
    ],
  },
  {
    component: "kube-state-metrics",
    path: ["kube-state-metrics", "image"],
    default: {
      registry: "registry.k8s.io",
      repository: "kube-state-metrics/kube-state-metrics",
      tag: "v2.20.0",
    },
    when: [on(["kubeStateMetrics", "enabled"])],
  },
  {
    component: "kube-state-metrics-rbac-proxy",
    path: ["kube-state-metrics", "kubeRBACProxy", "image"],
    default: { registry: "quay.io", repository: "brancz/kube-rbac-proxy", tag: "v0.22.1" },
    when: [
      on(["kubeStateMetrics", "enabled"]),
      on(["kube-state-metrics", "kubeRBACProxy", "enabled"], false),
    ],
  },
  {
    component: "node-exporter",
    path: ["prometheus-node-exporter", "image"],
    default: { registry: "quay.io", repository: "prometheus/node-exporter", tag: "v1.12.1" },
    when: [on(["nodeExporter", "enabled"])],
    // kube-prometheus-stack sets prometheus-node-exporter.image.distroless: true.
    distroless: true,
  },
  {
    component: "node-exporter-rbac-proxy",
    path: ["prometheus-node-exporter", "kubeRBACProxy", "image"],
    default: { registry: "quay.io", repository: "brancz/kube-rbac-proxy", tag: "v0.22.1" },
    when: [
      on(["nodeExporter", "enabled"]),
      on(["prometheus-node-exporter", "kubeRBACProxy", "enabled"], false),
    ],
  },
  {
    component: "grafana",
    path: ["grafana", "image"],
    default: { registry: "docker.io", repository: "grafana/grafana", tag: "13.2.0" },
    when: [on(["grafana", "enabled"])],
  },
  {
    component: "grafana-sidecar",
    path: ["grafana", "sidecar", "image"],
    default: { registry: "quay.io", repository: "kiwigrid/k8s-sidecar", tag: "2.10.1" },
    // kube-prometheus-stack turns on the dashboards and datasources sidecars.
    when: [on(["grafana", "enabled"])],
  },
  {
    component: "grafana-init-chown-data",
    path: ["grafana", "initChownData", "image"],
    default: { registry: "docker.io", repository: "library/busybox", tag: "1.38.0" },
    when: [
      on(["grafana", "enabled"]),
      on(["grafana", "persistence", "enabled"], false),
      on(["grafana", "initChownData", "enabled"]),
    ],
  },
];

function valueAt(values: Values, path: string[]): unknown {
  let node: unknown = values;
  for (const key of path) {
    if (!isMapping(node)) return undefined;
    node = node[key];
  }
  return node;
}

function setAt(values: Values, path: string[], value: unknown): void {
  let node = values;
  for (const key of path.slice(0, -1)) {
    if (!isMapping(node[key])) node[key] = {};
    node = node[key] as Values;
  }
  node[path.at(-1) as string] = value;
}

function holds(values: Values, c: Condition): boolean {
  const v = valueAt(values, c.path);
  const value = typeof v === "boolean" ? v : c.default;
  return c.not ? !value : value;
}

function refOf(values: Values, image: ChartImage): string {
  const set = valueAt(values, image.path);
  const field = (name: keyof ImageRef) => {
    const v = isMapping(set) ? set[name] : undefined;
    return typeof v === "string" && v !== "" ? v : image.default[name];
  };
  let tag = field("tag");
  if (image.distroless) {
    const d = isMapping(set) ? set.distroless : undefined;
    if (d === undefined || d === true) tag = `${tag}-distroless`;
  }
  return `${field("registry")}/${field("repository")}:${tag}`;
}

/** The images the chart runs for these values (the fleet's own Prometheus, sidecar and Alertmanager left out). */
export function chartImages(values: Values): { component: string; image: string }[] {
  return CHART_IMAGES.filter((i) => i.when.every((c) => holds(values, c))).map((i) => ({
    component: i.component,
    image: refOf(values, i),
  }));
}

/** Puts the registry mirror prefix in front of the registry of every chart image that runs with these values. */
export function mirrorChartImages(values: Values, prefix: string): Values {
  const out = structuredClone(values);
  for (const image of CHART_IMAGES.filter((i) => i.when.every((c) => holds(values, c)))) {
    const set = valueAt(values, image.path);
    const registry =
      isMapping(set) && typeof set.registry === "string" && set.registry
        ? set.registry
        : image.default.registry;
    setAt(out, [...image.path, "registry"], `${prefix}${registry}`);
  }
  return out;
}
