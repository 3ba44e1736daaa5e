// The Go programs kind:host needs, each built once from a wrapper module in tools/ and cached by name and version.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { binCacheDir } from "../../src/binaries/cache.ts";
import { TOOLS_DIR } from "../../src/binaries/catalog.ts";
import { run } from "./run.ts";

export const KUBE_VERSION = "v1.36.1";

/** One `go build` of one or more main packages of a wrapper module. */
export interface GoBuild {
  /** Names the build in progress lines and logs. */
  id: string;
  /** The wrapper module's directory under tools/. */
  toolDir: string;
  /** Names the cache directories: `<cache>/<dirPrefix ?? binary>-<version>/<binary>`. */
  version: string;
  dirPrefix?: string;
  /** Binary name → Go main package. */
  binaries: Readonly<Record<string, string>>;
  tags?: readonly string[];
  ldflagsX?: readonly string[];
  /** runc links libseccomp; everything else is static. */
  cgo?: boolean;
}

const promVersion = (version: string): string[] => [
  `github.com/prometheus/common/version.Version=${version}`,
  `github.com/prometheus/common/version.Branch=v${version}`,
  "github.com/prometheus/common/version.BuildUser=thanos-fleet",
];

const kubeVersionX = (pkg: string): string[] => [
  `${pkg}.gitVersion=${KUBE_VERSION}`,
  `${pkg}.gitMajor=1`,
  `${pkg}.gitMinor=36`,
  `${pkg}.gitTreeState=clean`,
];

const KUBE_COMMANDS = [
  "kubeadm",
  "kubelet",
  "kubectl",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kube-proxy",
] as const;

const CNI = "github.com/containernetworking/plugins/plugins";

export const BUILDS = {
  kubernetes: {
    id: `kubernetes ${KUBE_VERSION}`,
    toolDir: "kubernetes",
    version: KUBE_VERSION,
    binaries: Object.fromEntries(KUBE_COMMANDS.map((c) => [c, `k8s.io/kubernetes/cmd/${c}`])),
    ldflagsX: [
      ...kubeVersionX("k8s.io/component-base/version"),
      ...kubeVersionX("k8s.io/client-go/pkg/version"),
    ],
  },
  kind: { id: "kind v0.32.0", toolDir: "kind", version: "v0.32.0", binaries: { kind: "sigs.k8s.io/kind" } },
  helm: {
    id: "helm v3.22.0",
    toolDir: "helm",
    version: "v3.22.0",
    binaries: { helm: "helm.sh/helm/v3/cmd/helm" },
    // As helm's Makefile sets them: the Kubernetes version of its client-go (v0.37.0), which `helm template` and
    // `helm lint` assume without a cluster.
    ldflagsX: [
      "helm.sh/helm/v3/internal/version.version=v3.22.0",
      "helm.sh/helm/v3/internal/version.gitTreeState=clean",
      "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1",
      "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37",
      "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
      "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37",
    ],
  },
  containerd: {
    id: "containerd v2.3.4",
    toolDir: "containerd",
    version: "v2.3.4",
    binaries: {
      containerd: "github.com/containerd/containerd/v2/cmd/containerd",
      "containerd-shim-runc-v2": "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
      ctr: "github.com/containerd/containerd/v2/cmd/ctr",
    },
    tags: ["no_btrfs"],
    ldflagsX: [
      "github.com/containerd/containerd/v2/version.Version=v2.3.4",
      "github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2",
    ],
  },
  runc: {
    id: "runc v1.4.3",
    toolDir: "runc",
    version: "v1.4.3",
    binaries: { runc: "github.com/opencontainers/runc" },
    tags: ["seccomp"],
    ldflagsX: ["main.version=1.4.3"],
    cgo: true,
  },
  crictl: {
    id: "crictl v1.37.0",
    toolDir: "cri-tools",
    version: "v1.37.0",
    binaries: { crictl: "sigs.k8s.io/cri-tools/cmd/crictl" },
    ldflagsX: ["sigs.k8s.io/cri-tools/pkg/version.Version=v1.37.0"],
  },
  cni: {
    id: "CNI plugins v1.9.1",
    toolDir: "cni-plugins",
    version: "v1.9.1",
    dirPrefix: "cni-plugins",
    binaries: {
      ptp: `${CNI}/main/ptp`,
      bridge: `${CNI}/main/bridge`,
      loopback: `${CNI}/main/loopback`,
      "host-local": `${CNI}/ipam/host-local`,
      portmap: `${CNI}/meta/portmap`,
    },
    ldflagsX: ["github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v1.9.1"],
  },
  coredns: {
    id: "coredns v1.14.2",
    toolDir: "coredns",
    version: "v1.14.2",
    binaries: { coredns: "github.com/coredns/coredns" },
  },
  etcd: {
    id: "etcd v3.6.8",
    toolDir: "kind-etcd",
    version: "v3.6.8",
    binaries: { etcd: "go.etcd.io/etcd/server/v3" },
  },
  localPath: {
    id: "local-path-provisioner v0.0.30",
    toolDir: "local-path-provisioner",
    version: "v0.0.30",
    binaries: { "local-path-provisioner": "github.com/rancher/local-path-provisioner" },
    ldflagsX: ["main.VERSION=v0.0.30"],
  },
  operator: {
    id: "prometheus-operator v0.93.1",
    toolDir: "prometheus-operator",
    version: "v0.93.1",
    binaries: {
      operator: "github.com/prometheus-operator/prometheus-operator/cmd/operator",
      "prometheus-config-reloader":
        "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader",
    },
    ldflagsX: promVersion("0.93.1"),
  },
  nodeExporter: {
    id: "node_exporter v1.12.1",
    toolDir: "node-exporter",
    version: "v1.12.1",
    binaries: { node_exporter: "github.com/prometheus/node_exporter" },
    tags: ["netgo"],
    ldflagsX: promVersion("1.12.1"),
  },
  // The image Prometheus: Kubernetes discovery kept (kube-prometheus-stack's scrape configs use it), every
  // other discovery left out, as the local runtime's lean build does.
  prometheusK8s: {
    id: "prometheus v3.14.0 (Kubernetes discovery)",
    toolDir: "prometheus",
    version: "v3.14.0",
    dirPrefix: "prometheus-kubernetes-sd",
    binaries: { prometheus: "github.com/prometheus/prometheus/cmd/prometheus" },
    tags: ["netgo", "remove_all_sd", "enable_kubernetes_sd"],
    ldflagsX: promVersion("3.14.0"),
  },
  // A test fixture, not what the fleet runs: cert-manager's own controllers for a CA issuer, standing in for its
  // controller image (tools/cert-manager says why).
  certManager: {
    id: "cert-manager controller v1.21.2 (CA issuer)",
    toolDir: "cert-manager",
    version: "v1.21.2",
    binaries: { "cert-manager-controller": "thanos-fleet/tools/cert-manager" },
    ldflagsX: ["github.com/cert-manager/cert-manager/pkg/util.AppVersion=v1.21.2"],
  },
  ociCapFilter: {
    id: "oci-capfilter",
    toolDir: "oci-capfilter",
    version: "v0.1.0",
    binaries: { "oci-capfilter": "thanos-fleet/tools/oci-capfilter" },
  },
  kindnetStandIn: {
    id: "kindnetd stand-in",
    toolDir: "kindnetd",
    version: "v0.1.0",
    dirPrefix: "kindnetd-standin",
    binaries: { kindnetd: "thanos-fleet/tools/kindnetd" },
  },
} satisfies Record<string, GoBuild>;

export type BuildName = keyof typeof BUILDS;

export function binaryPath(b: GoBuild, binary: string): string {
  return join(binCacheDir(), `${b.dirPrefix ?? binary}-${b.version}`, binary);
}

export function isBuilt(b: GoBuild): boolean {
  return Object.keys(b.binaries).every((name) => existsSync(binaryPath(b, name)));
}

/** Builds every binary of `b` that is missing from the cache; resolves to "cached" when none was. */
export async function ensureBuilt(b: GoBuild, log: NodeJS.WritableStream): Promise<"cached" | undefined> {
  if (isBuilt(b)) return "cached";
  const staging = await mkdtemp(join(binCacheDir(), `.build-${b.toolDir}-`));
  try {
    const ldflags = ["-s", "-w", ...(b.ldflagsX ?? []).map((x) => `-X ${x}`)].join(" ");
    const args = ["build", "-trimpath", "-ldflags", ldflags, "-o", `${staging}/`];
    if (b.tags?.length) args.push("-tags", b.tags.join(","));
    args.push(...Object.values(b.binaries));
    log.write(`\n# ${b.id}: go ${args.join(" ")}\n`);
    await run("go", args, {
      cwd: join(TOOLS_DIR, b.toolDir),
      env: { ...process.env, CGO_ENABLED: b.cgo ? "1" : "0" },
      log,
    });
    for (const [name, pkg] of Object.entries(b.binaries)) {
      const built = join(staging, goOutputName(pkg));
      const dest = binaryPath(b, name);
      await mkdir(join(dest, ".."), { recursive: true });
      await rename(built, dest);
    }
    return undefined;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The file name `go build -o dir/` gives a main package: its last path element, skipping a major version. */
export function goOutputName(pkg: string): string {
  const parts = pkg.split("/");
  const last = parts.pop() ?? pkg;
  return /^v[0-9]+$/.test(last) && parts.length > 0 ? (parts.pop() ?? last) : last;
}
