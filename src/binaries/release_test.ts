import assert from "node:assert/strict";
import { test } from "node:test";
import { BINARY_NAMES, CATALOG } from "./catalog.ts";
import {
  currentPlatform,
  MIRROR_ENV,
  mirrored,
  PLATFORMS,
  pinnedAsset,
  RELEASES,
  sumFromChecksumFile,
} from "./release.ts";

test("promu archives: <name>-<version>.<os>-<arch>.tar.gz on the GitHub release, the binary in a directory of that name", () => {
  assert.deepEqual(RELEASES.thanos?.asset("linux-amd64"), {
    url: "https://github.com/thanos-io/thanos/releases/download/v0.42.4/thanos-0.42.4.linux-amd64.tar.gz",
    member: "thanos-0.42.4.linux-amd64/thanos",
  });
  assert.deepEqual(RELEASES.promtool?.asset("darwin-arm64"), {
    url: "https://github.com/prometheus/prometheus/releases/download/v3.14.0/prometheus-3.14.0.darwin-arm64.tar.gz",
    member: "prometheus-3.14.0.darwin-arm64/promtool",
  });
  assert.deepEqual(RELEASES.alertmanager?.asset("linux-arm64"), {
    url: "https://github.com/prometheus/alertmanager/releases/download/v0.34.2/alertmanager-0.34.2.linux-arm64.tar.gz",
    member: "alertmanager-0.34.2.linux-arm64/alertmanager",
  });
});

test("etcd's Linux tarballs and Kubernetes's bare Linux server binary; no darwin asset for either", () => {
  assert.deepEqual(RELEASES.etcd?.asset("linux-arm64"), {
    url: "https://github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-arm64.tar.gz",
    member: "etcd-v3.6.16-linux-arm64/etcd",
  });
  assert.deepEqual(RELEASES["kube-apiserver"]?.asset("linux-amd64"), {
    url: "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kube-apiserver",
  });
  assert.equal(RELEASES.etcd?.asset("darwin-arm64"), undefined);
  assert.equal(RELEASES["kube-apiserver"]?.asset("darwin-amd64"), undefined);
});

test("every pinned sum is for the catalog's version, 64 hex digits, on a platform with an asset", () => {
  for (const [name, release] of Object.entries(RELEASES)) {
    assert.equal(release.version, CATALOG[name as keyof typeof CATALOG].version, name);
    for (const [platform, sum] of Object.entries(release.sha256)) {
      assert.match(sum, /^[0-9a-f]{64}$/, `${name} ${platform}`);
      assert.ok(release.asset(platform as (typeof PLATFORMS)[number]), `${name} ${platform} has an asset`);
    }
  }
  // prometheus and promtool come from one archive, so they carry the same sums.
  assert.deepEqual(RELEASES.prometheus?.sha256, RELEASES.promtool?.sha256);
  assert.deepEqual(Object.keys(RELEASES.prometheus?.sha256 ?? {}).sort(), [...PLATFORMS].sort());
});

test("a pinned asset comes with its sum and where it is fetched from; otherwise the reason there is none", () => {
  const asset = pinnedAsset("prometheus", "linux-amd64", RELEASES, {});
  assert.ok(!("none" in asset));
  assert.equal(asset.from, asset.url);
  assert.equal(asset.sha256, "f665c6da19eb7ba399c915d30c7d9793c9b417bf8a749b504bc470678631478d");

  // No sum pinned: the release's checksum file is read instead, from the mirror where one is set.
  assert.deepEqual(pinnedAsset("thanos", "linux-amd64", RELEASES, { [MIRROR_ENV]: "http://127.0.0.1:9" }), {
    url: "https://github.com/thanos-io/thanos/releases/download/v0.42.4/thanos-0.42.4.linux-amd64.tar.gz",
    member: "thanos-0.42.4.linux-amd64/thanos",
    from: "http://127.0.0.1:9/thanos-io/thanos/releases/download/v0.42.4/thanos-0.42.4.linux-amd64.tar.gz",
    checksums: {
      url: "https://github.com/thanos-io/thanos/releases/download/v0.42.4/sha256sums.txt",
      format: "sums",
      from: "http://127.0.0.1:9/thanos-io/thanos/releases/download/v0.42.4/sha256sums.txt",
    },
  });
  const noChecksums = { thanos: { ...(RELEASES.thanos as NonNullable<typeof RELEASES.thanos>) } };
  delete noChecksums.thanos.checksums;
  assert.deepEqual(pinnedAsset("thanos", "linux-amd64", noChecksums, {}), {
    none: "no SHA-256 is pinned for its linux-amd64 release archive, and its release has no checksum file",
  });
  assert.deepEqual(pinnedAsset("etcd", "darwin-arm64", RELEASES, {}), {
    none: "no release archive for darwin-arm64 in a form read here",
  });
  for (const name of BINARY_NAMES.filter((n) => !RELEASES[n])) {
    assert.deepEqual(pinnedAsset(name, "linux-amd64", RELEASES, {}), {
      none: "it has no official release archive",
    });
  }
  // A sum pinned for another version than the catalog's is not used.
  const stale = {
    prometheus: { ...(RELEASES.prometheus as NonNullable<typeof RELEASES.prometheus>), version: "v3.13.0" },
  };
  assert.ok("none" in pinnedAsset("prometheus", "linux-amd64", stale, {}));
});

test("a checksum file: sha256sum lines, the asset found by its file name; Kubernetes's bare .sha256", () => {
  const url =
    "https://github.com/prometheus/alertmanager/releases/download/v0.34.2/alertmanager-0.34.2.linux-amd64.tar.gz";
  const a = "a".repeat(64);
  const b = "B".repeat(64);
  const sums = `${a}  alertmanager-0.34.2.darwin-amd64.tar.gz\n${b} *alertmanager-0.34.2.linux-amd64.tar.gz\n\n`;
  assert.equal(sumFromChecksumFile(sums, "sums", url), "b".repeat(64));
  assert.equal(sumFromChecksumFile(`${a}  other.tar.gz\n`, "sums", url), undefined);
  assert.throws(
    () => sumFromChecksumFile("<html></html>", "sums", url),
    /line 1 is not "<sha256> {2}<file>"/,
  );
  assert.equal(sumFromChecksumFile(`${a}\n`, "bare", "https://dl.k8s.io/x/kube-apiserver"), a);
  assert.throws(() => sumFromChecksumFile("Not Found", "bare", url), /does not start with a SHA-256/);
  assert.deepEqual(RELEASES["kube-apiserver"]?.checksums?.("linux-arm64"), {
    url: "https://dl.k8s.io/release/v1.36.3/bin/linux/arm64/kube-apiserver.sha256",
    format: "bare",
  });
  assert.equal(RELEASES.etcd?.checksums?.("linux-amd64")?.url.endsWith("/v3.6.16/SHA256SUMS"), true);
});

test("a mirror serves each archive at its official URL's path", () => {
  const url = "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kube-apiserver";
  assert.equal(
    mirrored(url, "http://mirror.internal:8080/tools/"),
    "http://mirror.internal:8080/tools/release/v1.36.3/bin/linux/amd64/kube-apiserver",
  );
  assert.equal(mirrored(url, undefined), url);
  const asset = pinnedAsset("promtool", "linux-arm64", RELEASES, { [MIRROR_ENV]: "http://127.0.0.1:9" });
  assert.ok(!("none" in asset));
  assert.equal(
    asset.from,
    "http://127.0.0.1:9/prometheus/prometheus/releases/download/v3.14.0/prometheus-3.14.0.linux-arm64.tar.gz",
  );
});

test("platforms: linux and darwin on x64 and arm64; anything else has no release archive", () => {
  assert.equal(currentPlatform("linux", "x64"), "linux-amd64");
  assert.equal(currentPlatform("darwin", "arm64"), "darwin-arm64");
  assert.equal(currentPlatform("win32", "x64"), undefined);
  assert.equal(currentPlatform("linux", "ppc64"), undefined);
});
