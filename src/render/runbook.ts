// The ordered steps that bring the rendered fleet up, with the exact commands a person could run by hand.
import { NAMESPACE } from "../components/context.ts";
import { grafanaNodePort } from "../components/grafana.ts";
import { MINIO_WORKLOAD } from "../components/minio.ts";
import { SEAWEEDFS_WORKLOAD } from "../components/seaweedfs.ts";
import { DEFAULT_SOURCE } from "../topology/load.ts";
import type { Topology } from "../topology/topology.ts";
import { fleetPath } from "../topology/topology.ts";
import { PINNED } from "../versions.ts";
import { type DiscoveredAddresses, type OpenAddress, placeholder } from "./addresses.ts";
import { CHART_REPO, chartSource, GRAFANA_DATASOURCE_UID, GRAFANA_SECRET, RELEASE } from "./helm.ts";
import { SETUP_JOB } from "./minio.ts";
import { SEAWEEDFS_SETUP_JOB } from "./seaweedfs.ts";
import type { PlanStep, RenderedCluster, RenderedFleet } from "./types.ts";

/** Where `plan` says the artifacts are, when it is not told (`render --out` gives the real place). */
export const DEFAULT_OUT = "fleet-rendered";

export const FILES = {
  kind: "kind.yaml",
  namespace: "namespace.yaml",
  secrets: "secrets.yaml",
  values: "values-kube-prometheus-stack.yaml",
  manifests: "manifests.yaml",
  certificates: "certificates.yaml",
  plan: "PLAN.md",
} as const;

export interface PlanOptions {
  outDir: string;
  open: OpenAddress[];
  discovered?: DiscoveredAddresses;
}

function configFlag(topology: Topology): string {
  return topology.source === DEFAULT_SOURCE ? "" : ` -c ${shellQuote(topology.source)}`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export function planSteps(topology: Topology, clusters: RenderedCluster[], opts: PlanOptions): PlanStep[] {
  const file = (cluster: string, name: string) => shellQuote(`${opts.outDir}/${cluster}/${name}`);
  const substitute = opts.open.length > 0;
  /** `kubectl apply` of a rendered file, through envsubst while node addresses are still placeholders. */
  const apply = (rc: RenderedCluster, name: string) =>
    substitute && name !== FILES.namespace
      ? `envsubst "$FLEET_ADDRESS_VARS" < ${file(rc.cluster, name)} | kubectl --context ${rc.context} apply --server-side -f -`
      : `kubectl --context ${rc.context} apply --server-side -f ${file(rc.cluster, name)}`;
  const steps: PlanStep[] = [];

  steps.push({
    title: "Render the artifacts",
    commands: [`thanos-fleet render${configFlag(topology)} --out ${shellQuote(opts.outDir)}`],
    why: "Credentials are generated once and kept in the state dir (mode 0600); each secrets.yaml holds them, so keep the output directory private and out of version control.",
  });

  for (const rc of clusters) {
    if (rc.kindConfig) {
      steps.push({
        title: `Create kind cluster ${rc.cluster}`,
        cluster: rc.cluster,
        commands: [
          `kind get clusters | grep -qx ${rc.cluster} || kind create cluster --name ${rc.cluster} --config ${file(rc.cluster, FILES.kind)} --wait 5m`,
        ],
        why: `kind ${PINNED.kind}; the node image is pinned by digest. Host ports: ${rc.hostPorts.map((p) => `${p.name} 127.0.0.1:${p.hostPort}`).join(", ")}.`,
      });
    } else {
      steps.push({
        title: `Check existing cluster ${rc.cluster}`,
        cluster: rc.cluster,
        commands: [`kubectl --context ${rc.context} cluster-info`],
      });
    }
  }

  const archive = topology.fleet.images.archive;
  const kinds = clusters.filter((c) => c.kindConfig);
  if (archive && kinds.length > 0) {
    const path = shellQuote(fleetPath(topology, archive));
    steps.push({
      title: "Load the image archive into every kind node",
      commands: kinds.map((rc) => `kind load image-archive ${path} --name ${rc.cluster}`),
      why: "Before anything that runs these images is applied: a kubelet that tried to pull an image and failed keeps trying to pull it, even once it is loaded.",
    });
  }

  if (substitute) {
    const vars = opts.open.map((o) => placeholder(o.variable)).join(" ");
    steps.push({
      title: "Discover the node addresses the clusters reach each other at",
      commands: [
        ...opts.open.map((o) => `export ${o.variable}="$(${o.command})"`),
        `export FLEET_ADDRESS_VARS='${vars}'`,
      ],
      why: "The rendered files name these addresses as placeholders; envsubst fills them as each file is applied. Docker gives nodes new addresses after a restart: then repeat this step and the apply steps (or run 'thanos-fleet up', which records them and renders them in).",
    });
  } else {
    const known = Object.entries(opts.discovered?.nodeIP ?? {}).map(([c, ip]) => `${c} ${ip}`);
    steps.push({
      title: "Check the node addresses rendered in",
      commands: clusters.map((rc) => `kubectl --context ${rc.context} get nodes -o wide`),
      why: `Rendered with the addresses 'thanos-fleet up' discovered${known.length > 0 ? ` (${known.join(", ")})` : ""}; if the first node of a cluster now shows another INTERNAL-IP, Docker has restarted: run 'thanos-fleet up' again.`,
    });
  }

  steps.push({
    title: `Create the ${NAMESPACE} namespace, once per cluster`,
    commands: clusters.map((rc) => apply(rc, FILES.namespace)),
  });
  steps.push({
    title: "Apply the Secrets, before anything that reads them",
    commands: clusters.map((rc) => apply(rc, FILES.secrets)),
    why: "Object store config, the storage server's admin and Thanos's bucket-scoped key, Grafana's admin: never in Helm values.",
  });
  const certified = clusters.filter((rc) => (rc.certificates ?? []).length > 0);
  if (certified.length > 0) {
    const issuer = topology.fleet.tls.issuer;
    steps.push({
      title: "Apply the servers' cert-manager Certificates and wait until each is Ready",
      commands: certified.flatMap((rc) => [
        apply(rc, FILES.certificates),
        `kubectl --context ${rc.context} -n ${NAMESPACE} wait --for=condition=Ready certificate --all --timeout=5m`,
      ]),
      why: `cert-manager (${issuer?.kind}/${issuer?.name}) writes each server's Secret, which its pods mount: they start only once it is there.`,
    });
  }

  for (const rc of clusters.filter((c) => c.role === "storage")) {
    const seaweedfs = topology.storage?.server === "seaweedfs";
    steps.push({
      title: seaweedfs
        ? `Start SeaweedFS in ${rc.cluster} (Thanos's bucket-scoped identity is in its config Secret) and create the buckets`
        : `Start MinIO in ${rc.cluster} and create the bucket with a key for Thanos`,
      cluster: rc.cluster,
      commands: [
        apply(rc, FILES.manifests),
        `kubectl --context ${rc.context} -n ${NAMESPACE} rollout status statefulset/${seaweedfs ? SEAWEEDFS_WORKLOAD : MINIO_WORKLOAD} --timeout=5m`,
        `kubectl --context ${rc.context} -n ${NAMESPACE} wait --for=condition=complete job/${seaweedfs ? SEAWEEDFS_SETUP_JOB : SETUP_JOB} --timeout=5m`,
      ],
    });
  }

  const workloads = clusters.filter((c) => c.role === "workload");
  const source = chartSource(topology);
  if (workloads.length > 0 && !source.local) {
    steps.push({
      title: "Add the Helm repository of kube-prometheus-stack",
      commands: [`helm repo add prometheus-community ${CHART_REPO} --force-update`],
    });
  }
  const version = topology.fleet.versions.kubePrometheusStack;
  for (const rc of workloads) {
    const values = file(rc.cluster, FILES.values);
    const chart = source.local ? shellQuote(source.chart) : `${source.chart} --version ${version}`;
    const helm = `helm upgrade --install ${RELEASE} ${chart} --kube-context ${rc.context} --namespace ${NAMESPACE}`;
    steps.push({
      title: `Install kube-prometheus-stack ${version} in ${rc.cluster}, and a Service per Prometheus replica`,
      cluster: rc.cluster,
      commands: [
        substitute
          ? `envsubst "$FLEET_ADDRESS_VARS" < ${values} | ${helm} --values - --wait --timeout 10m`
          : `${helm} --values ${values} --wait --timeout 10m`,
        apply(rc, FILES.manifests),
      ],
    });
  }

  for (const rc of clusters.filter((c) => c.role === "observer")) {
    const rollouts = rc.manifests
      .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
      .map(
        (o) =>
          `kubectl --context ${rc.context} -n ${NAMESPACE} rollout status ${o.kind.toLowerCase()}/${o.metadata.name} --timeout=5m`,
      );
    steps.push({
      title: `Start the Thanos components and the Alertmanager in ${rc.cluster}`,
      cluster: rc.cluster,
      commands: [apply(rc, FILES.manifests), ...rollouts],
    });
  }

  for (const rc of workloads) {
    const grafana = rc.hostPorts.find((p) => p.name === "grafana");
    const w = topology.workloads.find((x) => x.name === rc.cluster);
    const nodePort = w && grafanaNodePort(w);
    const base = grafana
      ? `http://127.0.0.1:${grafana.hostPort}`
      : `http://$(kubectl --context ${rc.context} get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}'):${nodePort}`;
    const key = (k: string) =>
      `$(kubectl --context ${rc.context} -n ${NAMESPACE} get secret ${GRAFANA_SECRET} -o jsonpath='{.data.${k}}' | base64 -d)`;
    steps.push({
      title: `Check that Grafana in ${rc.cluster} reaches mgmt's query-frontend`,
      cluster: rc.cluster,
      commands: [
        `curl -fsS -u "${key("admin-user")}:${key("admin-password")}" ${base}/api/datasources/uid/${GRAFANA_DATASOURCE_UID}/health`,
      ],
      why: "Grafana's own health check of the Thanos datasource, which points at mgmt's node address and query-frontend NodePort.",
    });
  }

  const qfe = clusters.find((c) => c.role === "observer")?.hostPorts.find((p) => p.name === "query-frontend");
  steps.push({
    title: "Verify the fleet end to end",
    commands: [
      `thanos-fleet verify${configFlag(topology)}`,
      ...(qfe
        ? [
            `curl -fsS http://127.0.0.1:${qfe.hostPort}/api/v1/query --data-urlencode 'query=sum by (cluster) (up)'`,
          ]
        : []),
    ],
    why: "Every sidecar, the store gateway and each ruler over gRPC, deduplication, blocks in the bucket, alerts in the Alertmanager.",
  });
  return steps;
}

/** PLAN.md: what was rendered, where the UIs are, and the steps. */
export function planMarkdown(topology: Topology, fleet: RenderedFleet, outDir: string): string {
  const lines: string[] = [];
  lines.push("# Plan: bring the fleet up by hand", "");
  lines.push(
    `Rendered by thanos-fleet from ${topology.source === DEFAULT_SOURCE ? "the default fleet" : `\`${topology.source}\``}. ` +
      "`thanos-fleet up` runs these same steps; this file lists them so that a person can run, read or audit each one.",
    "",
  );
  lines.push(
    "## Clusters",
    "",
    "| cluster | role | kube context | created by |",
    "| --- | --- | --- | --- |",
  );
  for (const rc of fleet.clusters) {
    lines.push(
      `| ${rc.cluster} | ${rc.role} | \`${rc.context}\` | ${rc.kindConfig ? `kind (\`${rc.cluster}/${FILES.kind}\`)` : "existing cluster"} |`,
    );
  }
  lines.push("");
  const ports = fleet.clusters.flatMap((rc) => rc.hostPorts.map((p) => ({ cluster: rc.cluster, ...p })));
  if (ports.length > 0) {
    lines.push(
      "## Where to open the UIs",
      "",
      "kind publishes these NodePorts on the host (loopback only), which also works where node addresses are not reachable from the host (Docker Desktop on macOS and Windows).",
      "",
      "| cluster | what | URL | NodePort |",
      "| --- | --- | --- | --- |",
    );
    for (const p of ports)
      lines.push(`| ${p.cluster} | ${p.name} | http://127.0.0.1:${p.hostPort} | ${p.nodePort} |`);
    lines.push("");
  }
  lines.push(
    "## Requirements",
    "",
    `- Docker, kind ${PINNED.kind}, kubectl, Helm (3 or 4), curl`,
    ...(fleet.openAddresses.length > 0
      ? ["- envsubst (Debian/Ubuntu package `gettext-base`, Homebrew `gettext`)"]
      : []),
    "",
    "## Credentials",
    "",
    `Each \`${outDir}/<cluster>/${FILES.secrets}\` holds credentials (file mode 0600): the object store config with Thanos's bucket-scoped key, the storage server's admin (MinIO's root user, or SeaweedFS's identities file), Grafana's admin password. They are generated once and kept in the state dir; Helm values and every other file only refer to the Secrets by name. Do not commit or share these files.`,
    "",
  );
  if (fleet.openAddresses.length > 0) {
    lines.push(
      "## Addresses still to fill in",
      "",
      "The clusters reach each other at node addresses that Docker assigns when the clusters are created, so the files name them as placeholders. Each command below prints one value; the discovery step exports them and the apply steps pass each file through `envsubst`.",
      "",
      "| placeholder | cluster | command |",
      "| --- | --- | --- |",
    );
    for (const o of fleet.openAddresses)
      lines.push(
        `| \`${placeholder(o.variable)}\` | ${o.cluster} | \`${o.command.replaceAll("|", "\\|")}\` |`,
      );
    lines.push("");
  }
  lines.push("## Steps", "", "Every command is idempotent: run a step again after a failure.", "");
  fleet.plan.forEach((step, i) => {
    lines.push(`### ${i + 1}. ${step.title}`, "");
    if (step.why) lines.push(step.why, "");
    lines.push("```sh", ...step.commands, "```", "");
  });
  return `${lines.join("\n").trimEnd()}\n`;
}
