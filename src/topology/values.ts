// kube-prometheus-stack values of the user's own: merged over the rendered values the way Helm merges values files,
// except for the keys the fleet depends on, which are refused with the fleet.yaml field that sets them.

export type Values = Record<string, unknown>;

export const isMapping = (x: unknown): x is Values =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * Deep-merges `over` into `base` (neither is changed): mappings merge key by key, anything else replaces, and `null`
 * deletes the key, as a second `helm --values` file does.
 */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else if (isMapping(value) && isMapping(out[key])) out[key] = mergeValues(out[key], value);
    else out[key] = structuredClone(value);
  }
  return out;
}

/** A values key the fleet renders itself and depends on; `use` is the fleet.yaml field that sets it, if any. */
interface Refused {
  path: string[];
  why: string;
  /** The fleet.yaml field to use instead; `{cluster}` stands for `clusters[i]`. */
  use?: string;
}

const spec = ["prometheus", "prometheusSpec"];

export const REFUSED_VALUES: Refused[] = [
  {
    path: ["fullnameOverride"],
    why: "the fleet's Services and checks find the chart's objects by their names",
  },
  { path: ["nameOverride"], why: "the fleet's Services and checks find the chart's objects by their names" },
  {
    path: [...spec, "externalLabels"],
    why: "query and the compactor rely on them",
    use: "{cluster}.externalLabels",
  },
  {
    path: [...spec, "replicaExternalLabelName"],
    why: "query deduplicates the replicas on prometheus_replica",
  },
  {
    path: [...spec, "replicas"],
    why: "each replica gets its own NodePort",
    use: "{cluster}.prometheus.replicas",
  },
  { path: [...spec, "retention"], why: "the fleet sets it", use: "{cluster}.prometheus.retention" },
  { path: [...spec, "scrapeInterval"], why: "the fleet sets it", use: "{cluster}.prometheus.scrapeInterval" },
  {
    path: [...spec, "evaluationInterval"],
    why: "the fleet sets it",
    use: "{cluster}.prometheus.scrapeInterval",
  },
  {
    path: [...spec, "image"],
    why: "one Prometheus version across the fleet",
    use: "versions.prometheus (images.registry for a mirror)",
  },
  { path: [...spec, "version"], why: "one Prometheus version across the fleet", use: "versions.prometheus" },
  {
    path: [...spec, "thanos"],
    why: "the sidecar's image, bucket and TLS are wired by the fleet",
    use: "versions.thanos, objectStore, tls.grpc or blocks.duration",
  },
  {
    path: ["prometheus", "thanosService"],
    why: "the sidecars are exposed by the fleet",
    use: "{cluster}.nodePorts.sidecarGrpc",
  },
  {
    path: ["prometheusOperator", "thanosImage"],
    why: "one Thanos version across the fleet",
    use: "versions.thanos",
  },
  { path: ["alertmanager", "enabled"], why: "the cluster's Alertmanager is part of the fleet" },
  { path: ["alertmanager", "service", "type"], why: "the fleet exposes it", use: "{cluster}.serviceType" },
  {
    path: ["alertmanager", "service", "nodePort"],
    why: "the fleet exposes it",
    use: "{cluster}.nodePorts.alertmanager",
  },
  {
    path: ["alertmanager", "alertmanagerSpec", "image"],
    why: "one Alertmanager version across the fleet",
    use: "versions.alertmanager (images.registry for a mirror)",
  },
  { path: ["grafana", "enabled"], why: "the fleet decides it", use: "grafana" },
  {
    path: ["grafana", "forceDeployDatasources"],
    why: "the Thanos datasource must reach Grafana",
    use: "grafana",
  },
  { path: ["grafana", "admin"], why: "Grafana's admin comes from the fleet's credentials in the state dir" },
  { path: ["grafana", "service", "type"], why: "the fleet exposes it", use: "{cluster}.serviceType" },
  {
    path: ["grafana", "service", "nodePort"],
    why: "the fleet exposes it",
    use: "{cluster}.nodePorts.grafana",
  },
  {
    path: ["grafana", "additionalDataSources"],
    why: "it holds the fleet's Thanos datasource",
    use: "grafana.additionalDataSourcesString inside kubePrometheusStackValues, for datasources of your own",
  },
];

export interface RefusedValue {
  /** Path inside the values, e.g. ["prometheus", "prometheusSpec", "externalLabels"]. */
  path: string[];
  message: string;
  fix: string;
}

/**
 * The refused keys set in `values`. `cluster` is the field of the workload cluster these values apply to
 * (`clusters[1]`), or undefined for the fleet-wide values.
 */
export function refusedValues(values: Values, cluster?: string): RefusedValue[] {
  const out: RefusedValue[] = [];
  for (const r of REFUSED_VALUES) {
    let node: unknown = values;
    for (let depth = 0; depth < r.path.length; depth++) {
      const key = r.path[depth] as string;
      if (!isMapping(node) || !(key in node)) break;
      const next = node[key];
      const path = r.path.slice(0, depth + 1);
      if (depth === r.path.length - 1) {
        const use = r.use?.replaceAll("{cluster}", cluster ?? "clusters[i]");
        out.push({
          path,
          message: `is set by thanos-fleet (${r.why})`,
          fix: use ? `remove it and set ${use} in fleet.yaml instead` : "remove it",
        });
      } else if (!isMapping(next)) {
        // A scalar, a list or null here would replace or remove the fleet's whole subtree.
        out.push({
          path,
          message: `must be a mapping: it holds ${r.path.slice(depth + 1).join(".")}, which thanos-fleet sets`,
          fix: "give a mapping with only the keys you change",
        });
        break;
      }
      node = next;
    }
  }
  // One problem per place, the shallowest first.
  const seen = new Set<string>();
  return out.filter((p) => {
    const key = p.path.join(".");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
