// The rendered fleet as files: one directory per cluster plus PLAN.md, with secrets.yaml readable by its owner only.
import { DEFAULT_SOURCE } from "../topology/load.ts";
import type { Topology } from "../topology/topology.ts";
import { stringify } from "../yaml.ts";
import { FILES, planMarkdown } from "./runbook.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "./types.ts";

export interface RenderedFile {
  /** Relative to the output directory, with forward slashes. */
  path: string;
  content: string;
  mode: number;
}

/**
 * YAML that means the same to a YAML 1.1 reader (kubectl, Helm and other Go tools): strings such as off, on, yes
 * and no are quoted, where YAML 1.2 output would leave them plain and a 1.1 reader would take them for booleans.
 */
export function yaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

export function yamlDocuments(objects: KubeObject[]): string {
  return objects.map(yaml).join("---\n");
}

function header(topology: Topology, what: string): string {
  const from = topology.source === DEFAULT_SOURCE ? "the default fleet" : topology.source;
  return `# ${what}\n# Rendered by thanos-fleet from ${from}; re-render rather than edit.\n`;
}

export function clusterFiles(topology: Topology, rc: RenderedCluster): RenderedFile[] {
  const dir = rc.cluster;
  const out: RenderedFile[] = [];
  const add = (name: string, content: string, mode = 0o644) =>
    out.push({ path: `${dir}/${name}`, content, mode });
  if (rc.kindConfig) add(FILES.kind, header(topology, `kind cluster ${rc.cluster}`) + yaml(rc.kindConfig));
  const [ns, ...rest] = rc.manifests;
  if (ns?.kind !== "Namespace")
    throw new Error(`the manifests of ${rc.cluster} do not start with the Namespace`);
  add(
    FILES.namespace,
    header(topology, `The namespace of cluster ${rc.cluster}, created once before anything else`) + yaml(ns),
  );
  add(
    FILES.secrets,
    header(topology, `Secrets of cluster ${rc.cluster}: CREDENTIALS, mode 0600, do not commit`) +
      yamlDocuments(rc.secrets),
    0o600,
  );
  if (rc.certificates && rc.certificates.length > 0) {
    add(
      FILES.certificates,
      header(
        topology,
        `cert-manager Certificates of cluster ${rc.cluster}: one per server, no key material`,
      ) + yamlDocuments(rc.certificates),
    );
  }
  if (rc.helmValues) {
    add(
      FILES.values,
      header(
        topology,
        `kube-prometheus-stack values for ${rc.cluster}; no credential, Secrets are referenced by name`,
      ) + yaml(rc.helmValues),
    );
  }
  add(
    FILES.manifests,
    header(topology, `What thanos-fleet applies in ${rc.cluster}, in order`) + yamlDocuments(rest),
  );
  return out;
}

export function fleetFiles(topology: Topology, fleet: RenderedFleet, outDir: string): RenderedFile[] {
  return [
    ...fleet.clusters.flatMap((rc) => clusterFiles(topology, rc)),
    { path: FILES.plan, content: planMarkdown(topology, fleet, outDir), mode: 0o644 },
  ];
}
