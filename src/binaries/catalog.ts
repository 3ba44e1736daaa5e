// The binaries thanos-fleet runs locally, each built from a pinned Go module by a wrapper module in tools/.

import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";

export const BINARY_NAMES = [
  "thanos",
  "prometheus",
  "promtool",
  "alertmanager",
  "weed",
  "etcd",
  "kube-apiserver",
] as const;

export type BinaryName = (typeof BINARY_NAMES)[number];

/**
 * What each binary is for: the fleet `up` runs (installed by `npm run setup`), or only the tests (promtool's rule
 * unit tests, the envtest control plane; installed by `npm test` before it runs them).
 */
export const BINARY_USE: Readonly<Record<BinaryName, "fleet" | "tests">> = {
  thanos: "fleet",
  prometheus: "fleet",
  alertmanager: "fleet",
  weed: "fleet",
  promtool: "tests",
  etcd: "tests",
  "kube-apiserver": "tests",
};

export type BinaryUse = (typeof BINARY_USE)[BinaryName];

export function binariesFor(use: BinaryUse): BinaryName[] {
  return BINARY_NAMES.filter((n) => BINARY_USE[n] === use);
}

export interface BinarySpec {
  name: BinaryName;
  /** The version the binary reports; also names its cache directory. */
  version: string;
  /** The Go module the binary comes from, and the module version the wrapper requires. */
  module: string;
  moduleVersion: string;
  /** The wrapper module's directory under tools/ (or an absolute path). */
  toolDir: string;
  /** The Go main package to build. */
  pkg: string;
  tags: readonly string[];
  /** `-X importpath.name=value` settings, passed to the linker. */
  ldflagsX: readonly string[];
  /**
   * Files the module's zip lacks (generated, git-ignored upstream), by path inside the module. When set,
   * the module's source is copied, these are added, and the copy is built as the main module with its own
   * go.mod and go.sum; the wrapper module then only pins and verifies the source.
   */
  addToSource?: Readonly<Record<string, Uint8Array>>;
  /** How to ask the binary for its version, and what the answer must match. */
  versionArgs: readonly string[];
  versionPattern: RegExp;
}

const promVersion = (version: string, branch: string): string[] => [
  `github.com/prometheus/common/version.Version=${version}`,
  `github.com/prometheus/common/version.Branch=${branch}`,
  "github.com/prometheus/common/version.BuildUser=thanos-fleet",
];

const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const ALERTMANAGER_PAGE =
  '<!doctype html><meta charset="utf-8"><title>Alertmanager</title>' +
  "<p>This Alertmanager was built from Go module source without its web UI. " +
  'Its API is whole: <a href="api/v2/status">api/v2/status</a>.</p>\n';

const KUBE_VERSION = "v1.36.3";
const kubeVersionX = (pkg: string): string[] => [
  `${pkg}.gitVersion=${KUBE_VERSION}`,
  `${pkg}.gitMajor=1`,
  `${pkg}.gitMinor=36`,
  `${pkg}.gitTreeState=clean`,
];

// SeaweedFS's proxy-served source is a pseudo-version; its weed/util/version constants say 4.53, and its
// Dockerfile.go_build adds the short commit id.
const SEAWEEDFS_VERSION = "4.53";
const SEAWEEDFS_COMMIT = "7506e5f91cd6";

export const CATALOG: Readonly<Record<BinaryName, BinarySpec>> = {
  thanos: {
    name: "thanos",
    version: "v0.42.4",
    module: "github.com/thanos-io/thanos",
    moduleVersion: "v0.42.4",
    toolDir: "thanos",
    pkg: "github.com/thanos-io/thanos/cmd/thanos",
    // Thanos's own release tags (.promu.yml): slicelabels is the labels layout Thanos is written for.
    tags: ["netgo", "slicelabels"],
    ldflagsX: promVersion("0.42.4", "v0.42.4"),
    versionArgs: ["--version"],
    versionPattern: /^thanos, version 0\.42\.4 /m,
  },
  prometheus: {
    name: "prometheus",
    version: "v3.14.0",
    module: "github.com/prometheus/prometheus",
    moduleVersion: "v0.314.0",
    toolDir: "prometheus",
    pkg: "github.com/prometheus/prometheus/cmd/prometheus",
    // remove_all_sd keeps static, file and http discovery only; no builtinassets: no web UI, API whole.
    tags: ["netgo", "remove_all_sd"],
    ldflagsX: promVersion("3.14.0", "v3.14.0"),
    versionArgs: ["--version"],
    versionPattern: /^prometheus, version 3\.14\.0 /m,
  },
  promtool: {
    name: "promtool",
    version: "v3.14.0",
    module: "github.com/prometheus/prometheus",
    moduleVersion: "v0.314.0",
    toolDir: "prometheus",
    pkg: "github.com/prometheus/prometheus/cmd/promtool",
    tags: ["netgo", "remove_all_sd"],
    ldflagsX: promVersion("3.14.0", "v3.14.0"),
    versionArgs: ["--version"],
    versionPattern: /^promtool, version 3\.14\.0 /m,
  },
  alertmanager: {
    name: "alertmanager",
    version: "v0.34.2",
    module: "github.com/prometheus/alertmanager",
    moduleVersion: "v0.34.2",
    toolDir: "alertmanager",
    pkg: "github.com/prometheus/alertmanager/cmd/alertmanager",
    tags: ["netgo"],
    ldflagsX: promVersion("0.34.2", "v0.34.2"),
    // ui/web.go embeds app/dist, built by npm upstream and absent from the module: a one-page stand-in
    // (precompressed, as the real page is served) lets it compile. The API, which Thanos uses, is whole.
    addToSource: {
      "ui/app/dist/index.html.gz": gzipSync(ALERTMANAGER_PAGE),
      "ui/app/dist/index.html.br": brotliCompressSync(ALERTMANAGER_PAGE),
    },
    versionArgs: ["--version"],
    versionPattern: /^alertmanager, version 0\.34\.2 /m,
  },
  etcd: {
    name: "etcd",
    version: "v3.6.16",
    module: "go.etcd.io/etcd/server/v3",
    moduleVersion: "v3.6.16",
    toolDir: "etcd",
    // In etcd 3.5+ the etcd binary's main package is the server module's root; its version is in source.
    pkg: "go.etcd.io/etcd/server/v3",
    tags: [],
    ldflagsX: [],
    versionArgs: ["--version"],
    versionPattern: /^etcd Version: 3\.6\.16$/m,
  },
  "kube-apiserver": {
    name: "kube-apiserver",
    version: KUBE_VERSION,
    module: "k8s.io/kubernetes",
    moduleVersion: KUBE_VERSION,
    toolDir: "kube-apiserver",
    pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
    tags: [],
    // Without these the server reports v0.0.0-master+$Format:%H$ (`--version` and /version).
    ldflagsX: [
      ...kubeVersionX("k8s.io/component-base/version"),
      ...kubeVersionX("k8s.io/client-go/pkg/version"),
    ],
    versionArgs: ["--version"],
    versionPattern: new RegExp(`^Kubernetes ${reEscape(KUBE_VERSION)}$`, "m"),
  },
  weed: {
    name: "weed",
    version: SEAWEEDFS_VERSION,
    module: "github.com/seaweedfs/seaweedfs",
    moduleVersion: `v0.0.0-20261109003541-${SEAWEEDFS_COMMIT}`,
    toolDir: "seaweedfs",
    pkg: "github.com/seaweedfs/seaweedfs/weed",
    tags: [],
    ldflagsX: [`github.com/seaweedfs/seaweedfs/weed/util/version.COMMIT=${SEAWEEDFS_COMMIT}`],
    versionArgs: ["version"],
    versionPattern: new RegExp(`^version 30GB ${reEscape(SEAWEEDFS_VERSION)} ${SEAWEEDFS_COMMIT} `, "m"),
  },
};

export function isBinaryName(name: string): name is BinaryName {
  return (BINARY_NAMES as readonly string[]).includes(name);
}

export function spec(name: BinaryName): BinarySpec {
  return CATALOG[name];
}

/** tools/ of this package: beside src/ in the repository, beside dist/ when installed. */
export const TOOLS_DIR = fileURLToPath(new URL("../../tools/", import.meta.url));

export function toolModuleDir(s: BinarySpec): string {
  return isAbsolute(s.toolDir) ? s.toolDir : `${TOOLS_DIR}${s.toolDir}`;
}

/** The `go build` arguments for one binary, writing it to `out`. */
export function goBuildArgs(s: BinarySpec, out: string): string[] {
  const ldflags = ["-s", "-w", ...s.ldflagsX.map((x) => `-X ${x}`)].join(" ");
  const args = ["build", "-trimpath", "-ldflags", ldflags, "-o", out];
  if (s.tags.length > 0) args.push("-tags", s.tags.join(","));
  args.push(s.pkg);
  return args;
}
