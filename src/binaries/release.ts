// Where each pinned binary's official release archive lives, the SHA-256 pinned for it per platform, and the
// checksum file its release publishes beside it (read when no sum is pinned).

import { type BinaryName, CATALOG } from "./catalog.ts";

type Env = Readonly<Record<string, string | undefined>>;

export const PLATFORMS = ["linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The mirror base URL: each archive is fetched from it at its official URL's path. */
export const MIRROR_ENV = "THANOS_FLEET_RELEASE_MIRROR";

export interface ReleaseAsset {
  /** The archive (or bare binary) on the official release host. */
  url: string;
  /** The binary's path inside a .tar.gz; absent when the download is the binary itself. */
  member?: string;
}

export interface Release {
  /** The catalog version the sums below were published for; other versions have no pinned sum. */
  version: string;
  /** The asset for a platform, or undefined where upstream publishes none in a form read here. */
  asset(platform: Platform): ReleaseAsset | undefined;
  /** SHA-256 of each platform's asset, from upstream's published sums; where there is none, the checksum file's. */
  sha256: Readonly<Partial<Record<Platform, string>>>;
  /** The official URL of the checksum file published beside a platform's asset, and how it is written. */
  checksums?(platform: Platform): ChecksumFile | undefined;
}

/**
 * `sums`: `<sha256>  <file name>` lines (promu's sha256sums.txt, etcd's SHA256SUMS); `bare`: the asset's sum
 * alone (Kubernetes's `<binary>.sha256`).
 */
export interface ChecksumFile {
  url: string;
  format: "sums" | "bare";
}

export type ReleaseTable = Readonly<Partial<Record<BinaryName, Release>>>;

const bare = (version: string): string => version.replace(/^v/, "");

/**
 * An archive made by promu (Prometheus's release tool): `<name>-<version>.<os>-<arch>.tar.gz` on the GitHub
 * release page, holding `<name>-<version>.<os>-<arch>/<binary>` (promu's tarball command).
 */
function promu(repo: string, project: string, version: string, binary: string) {
  return (p: Platform): ReleaseAsset => {
    const dir = `${project}-${bare(version)}.${p}`;
    return {
      url: `https://github.com/${repo}/releases/download/${version}/${dir}.tar.gz`,
      member: `${dir}/${binary}`,
    };
  };
}

/** promu's `checksum` command writes sha256sums.txt beside the archives of every release. */
function promuSums(repo: string, version: string) {
  return (): ChecksumFile => ({
    url: `https://github.com/${repo}/releases/download/${version}/sha256sums.txt`,
    format: "sums",
  });
}

// Published in prometheus/prometheus v3.14.0's sha256sums.txt (promu checksum), shared by prometheus and promtool.
const PROMETHEUS_SHA256 = {
  "linux-amd64": "f665c6da19eb7ba399c915d30c7d9793c9b417bf8a749b504bc470678631478d",
  "linux-arm64": "077f3781ab7245dc04c9a3c9b78ba120fc8e41aa0dc97489b0af67247e50ba83",
  "darwin-amd64": "a14307b9726e66cadb81be9a544732623af26dabeb7702c987aa9c3c062ada34",
  "darwin-arm64": "a9623f7f4fe65b1b171b423c1a72bbf23dfdf41a171dcb33e7dd302af80dc01c",
} as const;

/**
 * One entry per binary with an official release. A binary absent here, or a platform with neither a pinned sum
 * nor a checksum file, is built from source. Sums not pinned (their published sums could not be read when pinning)
 * are empty: the release's checksum file is read instead, and the sum it gave recorded in the cache's lock file.
 * SeaweedFS is absent: its pinned source is a Go pseudo-version that no release tag could be matched to,
 * and its release assets (`linux_amd64.tar.gz`, made by go-release-action) come with an MD5 only.
 */
export const RELEASES: ReleaseTable = {
  thanos: {
    version: CATALOG.thanos.version,
    asset: promu("thanos-io/thanos", "thanos", CATALOG.thanos.version, "thanos"),
    sha256: {},
    checksums: promuSums("thanos-io/thanos", CATALOG.thanos.version),
  },
  prometheus: {
    version: CATALOG.prometheus.version,
    asset: promu("prometheus/prometheus", "prometheus", CATALOG.prometheus.version, "prometheus"),
    sha256: PROMETHEUS_SHA256,
    checksums: promuSums("prometheus/prometheus", CATALOG.prometheus.version),
  },
  promtool: {
    version: CATALOG.promtool.version,
    asset: promu("prometheus/prometheus", "prometheus", CATALOG.promtool.version, "promtool"),
    sha256: PROMETHEUS_SHA256,
    checksums: promuSums("prometheus/prometheus", CATALOG.promtool.version),
  },
  alertmanager: {
    version: CATALOG.alertmanager.version,
    asset: promu("prometheus/alertmanager", "alertmanager", CATALOG.alertmanager.version, "alertmanager"),
    sha256: {},
    checksums: promuSums("prometheus/alertmanager", CATALOG.alertmanager.version),
  },
  // etcd's scripts/build-binary.sh: etcd-<version>-linux-<arch>.tar.gz holding etcd-<version>-linux-<arch>/etcd;
  // darwin builds are .zip files, not read here. scripts/release.sh publishes SHA256SUMS beside them.
  etcd: {
    version: CATALOG.etcd.version,
    asset: (p) => {
      if (!p.startsWith("linux-")) return undefined;
      const dir = `etcd-${CATALOG.etcd.version}-${p}`;
      return {
        url: `https://github.com/etcd-io/etcd/releases/download/${CATALOG.etcd.version}/${dir}.tar.gz`,
        member: `${dir}/etcd`,
      };
    },
    sha256: {},
    checksums: () => ({
      url: `https://github.com/etcd-io/etcd/releases/download/${CATALOG.etcd.version}/SHA256SUMS`,
      format: "sums",
    }),
  },
  // Kubernetes publishes server binaries bare, for Linux only, each with a .sha256 beside it.
  "kube-apiserver": {
    version: CATALOG["kube-apiserver"].version,
    asset: (p) => {
      if (!p.startsWith("linux-")) return undefined;
      const arch = p.slice("linux-".length);
      return {
        url: `https://dl.k8s.io/release/${CATALOG["kube-apiserver"].version}/bin/linux/${arch}/kube-apiserver`,
      };
    },
    sha256: {},
    checksums: (p) =>
      p.startsWith("linux-")
        ? {
            url: `https://dl.k8s.io/release/${CATALOG["kube-apiserver"].version}/bin/linux/${p.slice("linux-".length)}/kube-apiserver.sha256`,
            format: "bare",
          }
        : undefined,
  },
};

/** This machine's platform in release-archive terms, or undefined where no release archive is published. */
export function currentPlatform(
  platform: string = process.platform,
  arch: string = process.arch,
): Platform | undefined {
  const os = platform === "linux" || platform === "darwin" ? platform : undefined;
  const cpu = arch === "x64" ? "amd64" : arch === "arm64" ? "arm64" : undefined;
  return os && cpu ? `${os}-${cpu}` : undefined;
}

export interface PinnedAsset extends ReleaseAsset {
  /** Where it is fetched from: the official URL, or the same path under the mirror. */
  from: string;
  /** The SHA-256 pinned in the source; absent when the release's checksum file is to be read instead. */
  sha256?: string;
  /** The checksum file to read when no sum is pinned, and where it is fetched from. */
  checksums?: ChecksumFile & { from: string };
}

/**
 * The release asset to download for a binary on a platform, with its pinned sum or else its release's checksum
 * file; or why there is none (then the binary is built from source).
 */
export function pinnedAsset(
  name: BinaryName,
  platform: Platform | undefined,
  table: ReleaseTable = RELEASES,
  env: Env = process.env,
): PinnedAsset | { none: string } {
  const release = table[name];
  const version = CATALOG[name].version;
  if (!release) return { none: "it has no official release archive" };
  if (!platform) return { none: `no release archive is published for ${process.platform}/${process.arch}` };
  const asset = release.asset(platform);
  if (!asset) return { none: `no release archive for ${platform} in a form read here` };
  if (release.version !== version) {
    return { none: `its release table is for ${release.version}, not ${version}` };
  }
  const from = mirrored(asset.url, env[MIRROR_ENV]);
  const sha256 = release.sha256[platform];
  if (sha256) return { ...asset, sha256, from };
  const checksums = release.checksums?.(platform);
  if (!checksums) {
    return {
      none: `no SHA-256 is pinned for its ${platform} release archive, and its release has no checksum file`,
    };
  }
  return { ...asset, from, checksums: { ...checksums, from: mirrored(checksums.url, env[MIRROR_ENV]) } };
}

/** The official URL, or its path under the mirror base URL. */
export function mirrored(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  return `${mirror.replace(/\/+$/, "")}${new URL(url).pathname}`;
}

/**
 * The sum a checksum file gives for the asset at `url` (its last path segment); undefined when the file names
 * no such asset. Throws when the file is not a checksum file at all.
 */
export function sumFromChecksumFile(
  text: string,
  format: ChecksumFile["format"],
  url: string,
): string | undefined {
  const file = new URL(url).pathname.split("/").pop() ?? "";
  if (format === "bare") {
    const sum = text.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    if (!/^[0-9a-f]{64}$/.test(sum)) throw new Error("it does not start with a SHA-256");
    return sum;
  }
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    // sha256sum's output: the sum, a space, then a space (text) or * (binary), then the name.
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trimEnd());
    if (!m) throw new Error(`line ${i + 1} is not "<sha256>  <file>"`);
    if ((m[2] as string).replace(/^\.\//, "") === file) return (m[1] as string).toLowerCase();
  }
  return undefined;
}
