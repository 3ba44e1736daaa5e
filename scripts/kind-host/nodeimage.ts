// kindest/node:v1.36.1 assembled offline, the way kind's images/base Dockerfile and `kind build node-image` lay
// a node out, from a debootstrap'd Debian and binaries built from the Go module proxy.
//
// Two fixes for hosts with cgroup v1 and a capability bounding set without CAP_SYS_RESOURCE are baked in, so
// that an unchanged kind config works: kubelet runs with --fail-cgroupv1=false, and containerd's CRI plugin
// with restrict_oom_score_adj (lowering oom_score_adj needs that capability).

import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TOOLS_DIR } from "../../src/binaries/catalog.ts";
import { BUILDS, binaryPath, KUBE_VERSION } from "./gobuild.ts";
import { ensureImage, type ImageFile, type ImageSpec, imageLabel } from "./image.ts";
import { kindHostDir } from "./paths.ts";
import { run } from "./run.ts";

export const NODE_IMAGE = `kindest/node:${KUBE_VERSION}`;
const BASE_IMAGE = `thanos-fleet.local/kind-base:${KUBE_VERSION}`;
const DEBIAN_SUITE = "bookworm";
const DEBIAN_MIRROR = "http://deb.debian.org/debian";
// What kind's base image installs (images/base/Dockerfile), less fuse-overlayfs (rootless only).
const BASE_PACKAGES = [
  "systemd",
  "conntrack",
  "iptables",
  "nftables",
  "iproute2",
  "ethtool",
  "util-linux",
  "mount",
  "kmod",
  "libseccomp2",
  "pigz",
  "nfs-common",
  "open-iscsi",
  "e2fsprogs",
  "bash",
  "ca-certificates",
  "curl",
  "jq",
  "procps",
];

/** The images kubeadm v1.36.1 asks for (`kubeadm config images list`) and the sandbox image. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2";
const ETCD_IMAGE = "registry.k8s.io/etcd:3.6.8-0";
const COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.14.2";
// kind's CNI and storage manifests name kind's own images; these name what is really in them.
const KINDNETD_IMAGE = "thanos-fleet.local/kindnetd-standin:v0.1.0";
const LOCAL_PATH_IMAGE = "docker.io/rancher/local-path-provisioner:v0.0.30";
const LOCAL_PATH_HELPER_IMAGE = "thanos-fleet.local/local-path-helper:busybox";

function nodeDir(...parts: string[]): string {
  return join(kindHostDir(), "node", ...parts);
}

/** The kind module's source directory, from the module cache (tools/kind pins it). */
async function kindModuleDir(): Promise<string> {
  return (
    await run("go", ["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind"], { cwd: join(TOOLS_DIR, "kind") })
  ).trim();
}

/** Debian minbase with kind's base packages; about 400 MB, made once. */
export async function ensureDebootstrap(log: NodeJS.WritableStream): Promise<"cached" | undefined> {
  const done = nodeDir("rootfs-debootstrap");
  if (existsSync(join(done, "usr/bin/systemctl"))) return "cached";
  const tmp = nodeDir("debootstrap.tmp");
  await rm(tmp, { recursive: true, force: true });
  await mkdir(dirname(tmp), { recursive: true });
  await run(
    "debootstrap",
    ["--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, DEBIAN_SUITE, tmp, DEBIAN_MIRROR],
    { log },
  );
  await rm(done, { recursive: true, force: true });
  await rename(tmp, done);
  return undefined;
}

/** busybox-static from Debian, for the small images that need a shell (local-path's helper, iptables' wrapper). */
export async function ensureBusybox(log: NodeJS.WritableStream): Promise<string> {
  const bin = nodeDir("busybox", "bin", "busybox");
  if (existsSync(bin)) return bin;
  const dir = nodeDir("busybox");
  await mkdir(dir, { recursive: true });
  await run("apt-get", ["download", "busybox-static"], { cwd: dir, log });
  const deb = (await readdir(dir)).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download busybox-static left no .deb in ${dir}`);
  await run("dpkg-deb", ["-x", join(dir, deb), join(dir, "x")]);
  await mkdir(dirname(bin), { recursive: true });
  await copyFile(join(dir, "x/bin/busybox"), bin);
  await chmod(bin, 0o755);
  return bin;
}

export async function busyboxFiles(busybox: string): Promise<ImageFile[]> {
  const applets = (await run(busybox, ["--list"])).split("\n").filter((a) => a && a !== "busybox");
  return [
    { path: "/bin/busybox", from: busybox, mode: 0o755 },
    ...applets.map((a) => ({ path: `/bin/${a}`, link: "busybox" })),
  ];
}

/**
 * ip, conntrack and iptables (legacy and nft) from the node's own Debian, with their libraries: what
 * kube-proxy and the kindnetd stand-in run. iptables starts as a wrapper that picks the mode the node's rules
 * are in, as the iptables-wrapper of the official kube-proxy image does.
 */
export async function netFiles(rootfs: string, busybox: string): Promise<ImageFile[]> {
  const bins = [
    "/usr/sbin/xtables-nft-multi",
    "/usr/sbin/xtables-legacy-multi",
    "/usr/bin/ip",
    "/usr/sbin/conntrack",
  ];
  const xtables = "/usr/lib/x86_64-linux-gnu/xtables";
  const extensions = (await readdir(join(rootfs, xtables))).map((f) => `${xtables}/${f}`);
  // The xtables extensions are loaded with dlopen (libxt_statistic needs libm): their libraries count too.
  const libs = new Set<string>();
  for (const b of [...bins, ...extensions.filter((e) => e.endsWith(".so"))]) {
    const out = await run("chroot", [rootfs, "ldd", b]);
    for (const m of out.matchAll(/(\/\S+)\s+\(0x/g)) libs.add(m[1] as string);
  }
  const files: ImageFile[] = [...(await busyboxFiles(busybox))];
  const copy = async (p: string) => {
    // Follow symlinks inside the rootfs so the image gets the real file under the path the loader asks for.
    const real = (await run("chroot", [rootfs, "readlink", "-f", p])).trim();
    files.push({ path: p, from: join(rootfs, real), mode: 0o755 });
  };
  for (const p of [...bins, ...libs]) await copy(p);
  for (const e of extensions) files.push({ path: e, from: join(rootfs, e), mode: 0o644 });
  const tools = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
  ];
  for (const t of tools) files.push({ path: `/usr/sbin/${t}`, link: "iptables-wrapper" });
  files.push({ path: "/usr/sbin/iptables-wrapper", content: IPTABLES_WRAPPER, mode: 0o755 });
  files.push({ path: "/run", mode: 0o755 });
  return files;
}

// Picks legacy or nft by which holds more rules (kubelet writes its canary chains before kube-proxy starts),
// points the iptables commands at it, then runs the command it was called as.
const IPTABLES_WRAPPER = `#!/bin/sh
set -e
count() { "/usr/sbin/xtables-$1-multi" iptables-save 2>/dev/null | grep -c '^-' || true; }
mode=nft
if [ "$(count legacy)" -gt "$(count nft)" ]; then mode=legacy; fi
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "xtables-$mode-multi" "/usr/sbin/$t"
done
exec "/usr/sbin/$(basename "$0")" "$@"
`;

const PATH_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

function kubeBinary(name: string): string {
  return binaryPath(BUILDS.kubernetes, name);
}

/** Every image the node's containerd holds, named as kubeadm and the node's manifests ask for them. */
async function innerImages(rootfs: string, busybox: string, pause: string): Promise<ImageSpec[]> {
  const net = await netFiles(rootfs, busybox);
  const server = (name: string): ImageSpec => ({
    ref: `registry.k8s.io/${name}:${KUBE_VERSION}`,
    files: [{ path: `/usr/local/bin/${name}`, from: kubeBinary(name), mode: 0o755 }],
    entrypoint: [`/usr/local/bin/${name}`],
    env: PATH_ENV,
  });
  return [
    server("kube-apiserver"),
    server("kube-controller-manager"),
    server("kube-scheduler"),
    { ...server("kube-proxy"), files: [...server("kube-proxy").files, ...net] },
    {
      ref: ETCD_IMAGE,
      files: [
        { path: "/usr/local/bin/etcd", from: binaryPath(BUILDS.etcd, "etcd"), mode: 0o755 },
        { path: "/var/lib/etcd" },
      ],
      entrypoint: ["/usr/local/bin/etcd"],
      env: PATH_ENV,
    },
    {
      ref: COREDNS_IMAGE,
      files: [{ path: "/coredns", from: binaryPath(BUILDS.coredns, "coredns"), mode: 0o755 }],
      // Upstream runs as a non-root user with a file capability to bind port 53; an imported tar carries no file
      // capabilities, so it runs as root with the NET_BIND_SERVICE that kubeadm's Deployment grants.
      entrypoint: ["/coredns"],
    },
    {
      ref: PAUSE_IMAGE,
      files: [{ path: "/pause", from: pause, mode: 0o755 }],
      entrypoint: ["/pause"],
      user: "65535:65535",
    },
    {
      ref: KINDNETD_IMAGE,
      files: [
        { path: "/bin/kindnetd", from: binaryPath(BUILDS.kindnetStandIn, "kindnetd"), mode: 0o755 },
        ...net,
      ],
      entrypoint: ["/bin/kindnetd"],
      env: PATH_ENV,
    },
    {
      ref: LOCAL_PATH_IMAGE,
      files: [
        {
          path: "/usr/bin/local-path-provisioner",
          from: binaryPath(BUILDS.localPath, "local-path-provisioner"),
          mode: 0o755,
        },
      ],
      entrypoint: ["local-path-provisioner"],
      env: PATH_ENV,
    },
    { ref: LOCAL_PATH_HELPER_IMAGE, files: await busyboxFiles(busybox), env: PATH_ENV },
  ];
}

/** pause from the Kubernetes module's own source (build/pause/linux/pause.c), linked statically. */
async function ensurePause(log: NodeJS.WritableStream): Promise<string> {
  const out = nodeDir("pause", "pause");
  if (existsSync(out)) return out;
  const mod = (
    await run("go", ["list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"], {
      cwd: join(TOOLS_DIR, "kubernetes"),
    })
  ).trim();
  await mkdir(dirname(out), { recursive: true });
  await run(
    "gcc",
    [
      "-Os",
      "-Wall",
      "-Werror",
      "-static",
      "-DVERSION=v3.10.2",
      "-o",
      `${out}.tmp`,
      join(mod, "build/pause/linux/pause.c"),
    ],
    { log },
  );
  await run("strip", [`${out}.tmp`]);
  await rename(`${out}.tmp`, out);
  return out;
}

interface KindConstants {
  defaultCNIManifest: string;
  defaultStorageManifest: string;
  kindnetdImage: string;
  storageProvisionerImage: string;
  storageHelperImage: string;
}

async function kindConstants(): Promise<KindConstants> {
  const dir = await kindModuleDir();
  const out = await run("go", ["run", "./cmd/kind-manifests", dir], { cwd: join(TOOLS_DIR, "kind") });
  return JSON.parse(out) as KindConstants;
}

function replaceAll(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`kind's manifest no longer names ${from}`);
  return text.split(from).join(to);
}

/** kind's base image layout on a copy of the debootstrap rootfs, plus the node's binaries and manifests. */
export async function assembleRootfs(rootfs: string, log: NodeJS.WritableStream): Promise<void> {
  const src = nodeDir("rootfs-debootstrap");
  await rm(rootfs, { recursive: true, force: true });
  await run("cp", ["-a", src, rootfs]);
  const files = join(await kindModuleDir(), "images/base/files");
  const at = (p: string) => join(rootfs, p);
  // COPY lines of images/base/Dockerfile, with their modes.
  await run("cp", ["-r", `${files}/usr/local/bin/.`, at("usr/local/bin/")]);
  await run("cp", ["-r", `${files}/kind`, at("/")]);
  await run("cp", ["-r", `${files}/etc/.`, at("etc/")]);
  await run("chmod", [
    "-R",
    "u+w",
    at("kind"),
    at("etc/containerd"),
    at("etc/systemd/system"),
    at("etc/default"),
  ]);
  await run("chmod", ["0755", at("kind"), at("kind/bin")]);
  await run("sh", ["-c", `chmod 0755 ${at("usr/local/bin")}/* ${at("kind/bin")}/*`]);
  await mkdir(at("LICENSES"), { recursive: true });
  await copyFile(join(files, "LICENSES/README.txt"), at("LICENSES/README.txt"));

  // The RUN steps: unit wants cleared, journald without kmsg, /sbin/init, units enabled and masked.
  await run("sh", [
    "-c",
    [
      `find ${at("lib/systemd/system/sysinit.target.wants")} -name systemd-tmpfiles-setup.service -delete`,
      `rm -f ${at("lib/systemd/system/multi-user.target.wants")}/* ${at("etc/systemd/system")}/*.wants/*`,
      `rm -f ${at("lib/systemd/system/local-fs.target.wants")}/* ${at("lib/systemd/system/sockets.target.wants")}/*udev*`,
      `rm -f ${at("lib/systemd/system/sockets.target.wants")}/*initctl* ${at("lib/systemd/system/basic.target.wants")}/*`,
      `echo ReadKMsg=no >> ${at("etc/systemd/journald.conf")}`,
      `ln -sf /usr/lib/systemd/systemd ${at("sbin/init")}`,
    ].join(" && "),
  ]);
  await run(
    "chroot",
    [rootfs, "systemctl", "enable", "kubelet.service", "containerd.service", "undo-mount-hacks.service"],
    { log },
  );
  await run("chroot", [rootfs, "systemctl", "mask", "systemd-binfmt.service"], { log });
  await mkdir(at("etc/kubernetes/manifests"), { recursive: true });

  // containerd, runc, crictl, CNI plugins, as the Dockerfile's build stages install them.
  const install = async (from: string, to: string) => {
    await mkdir(dirname(at(to)), { recursive: true });
    await copyFile(from, at(to));
    await chmod(at(to), 0o755);
  };
  for (const b of ["containerd", "containerd-shim-runc-v2", "ctr"])
    await install(binaryPath(BUILDS.containerd, b), `usr/local/bin/${b}`);
  await install(binaryPath(BUILDS.runc, "runc"), "usr/local/sbin/runc");
  await install(binaryPath(BUILDS.crictl, "crictl"), "usr/local/bin/crictl");
  for (const b of ["host-local", "loopback", "ptp", "portmap"])
    await install(binaryPath(BUILDS.cni, b), `opt/cni/bin/${b}`);
  const spec = JSON.parse(await run(binaryPath(BUILDS.containerd, "ctr"), ["oci", "spec"])) as {
    hooks?: { createContainer?: { path: string }[] };
    process: { rlimits?: unknown };
  };
  spec.hooks = {
    ...spec.hooks,
    createContainer: [...(spec.hooks?.createContainer ?? []), { path: "/kind/bin/mount-product-files.sh" }],
  };
  delete spec.process.rlimits;
  await writeFile(at("etc/containerd/cri-base.json"), `${JSON.stringify(spec, null, 2)}\n`);

  // The fixes for cgroup v1 and the bounding set, and the sandbox image kubeadm v1.36 expects.
  let containerd = await readFile(at("etc/containerd/config.toml"), "utf8");
  containerd = containerd
    .replace(/restrict_oom_score_adj = false/, "restrict_oom_score_adj = true")
    .replace(/sandbox_image = "[^"]*"/, `sandbox_image = "${PAUSE_IMAGE}"`);
  if (!containerd.includes("restrict_oom_score_adj = true") || !containerd.includes(PAUSE_IMAGE)) {
    throw new Error(
      "kind's containerd config.toml no longer has restrict_oom_score_adj and sandbox_image to set",
    );
  }
  await writeFile(at("etc/containerd/config.toml"), containerd);
  const kubelet = (await readFile(at("etc/default/kubelet"), "utf8")).trimEnd();
  await writeFile(at("etc/default/kubelet"), `${kubelet} --fail-cgroupv1=false\n`);

  // What `kind build node-image` adds: kubeadm, kubelet, kubectl, the version and the manifests.
  for (const b of ["kubeadm", "kubelet", "kubectl"]) await install(kubeBinary(b), `usr/bin/${b}`);
  await writeFile(at("kind/version"), KUBE_VERSION);
  const k = await kindConstants();
  await mkdir(at("kind/manifests"), { recursive: true });
  await writeFile(
    at("kind/manifests/default-cni.yaml"),
    replaceAll(k.defaultCNIManifest, k.kindnetdImage, KINDNETD_IMAGE),
  );
  let storage = replaceAll(k.defaultStorageManifest, k.storageProvisionerImage, LOCAL_PATH_IMAGE);
  storage = replaceAll(storage, k.storageHelperImage, LOCAL_PATH_HELPER_IMAGE);
  await writeFile(at("kind/manifests/default-storage.yaml"), storage);

  await run("sh", [
    "-c",
    `rm -rf ${at("var/lib/apt/lists")}/* ${at("var/cache/apt")}/*.bin ${at("var/cache/apt/archives")}/*.deb`,
  ]);
}

/** The whole node image; "cached" when kindest/node:v1.36.1 exists with the same inputs. */
export async function ensureNodeImage(log: NodeJS.WritableStream): Promise<"cached" | undefined> {
  const busybox = await ensureBusybox(log);
  const pause = await ensurePause(log);
  const rootfs = nodeDir("rootfs");
  // Inputs that decide the image: every binary it carries and this module's recipe.
  const inputs = [
    ...Object.keys(BUILDS.kubernetes.binaries).map(kubeBinary),
    ...["containerd", "containerd-shim-runc-v2", "ctr"].map((b) => binaryPath(BUILDS.containerd, b)),
    binaryPath(BUILDS.runc, "runc"),
    binaryPath(BUILDS.crictl, "crictl"),
    binaryPath(BUILDS.etcd, "etcd"),
    binaryPath(BUILDS.coredns, "coredns"),
    binaryPath(BUILDS.localPath, "local-path-provisioner"),
    binaryPath(BUILDS.kindnetStandIn, "kindnetd"),
    pause,
    new URL(import.meta.url).pathname,
  ];
  const stamp = await run("sh", ["-c", 'sha256sum "$@" | sha256sum | cut -c1-16', "sh", ...inputs]);
  if ((await imageLabel(NODE_IMAGE)) === stamp.trim()) return "cached";

  await assembleRootfs(rootfs, log);
  const images = await innerImages(rootfs, busybox, pause);
  const work = nodeDir("work");
  for (const img of images) await ensureImage(img, work);
  const imagesTar = nodeDir("images.tar");
  await run("docker", ["save", "-o", imagesTar, ...images.map((i) => i.ref)], { log });

  // Base image: the rootfs with the Dockerfile's final config. docker import refuses STOPSIGNAL, so a
  // one-line build on top sets it.
  const tar = nodeDir("rootfs.tar");
  await run("tar", ["--numeric-owner", "-C", rootfs, "-cf", tar, "."]);
  await run("docker", ["import", "-c", "ENV container=docker", tar, `${BASE_IMAGE}-import`], { log });
  await rm(tar, { force: true });
  const ctx = nodeDir("stopsignal");
  await mkdir(ctx, { recursive: true });
  await writeFile(
    join(ctx, "Dockerfile"),
    `FROM ${BASE_IMAGE}-import\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]\n`,
  );
  await run("docker", ["build", "-q", "-t", BASE_IMAGE, ctx], {
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    log,
  });

  // As kind does: containerd started in a build container imports the images (content only, pinned), then
  // the container is committed as the node image.
  const id = `kind-build-${Date.now()}`;
  await run(
    "docker",
    [
      "run",
      "-d",
      "--entrypoint=sleep",
      `--name=${id}`,
      "--security-opt",
      "seccomp=unconfined",
      BASE_IMAGE,
      "infinity",
    ],
    { log },
  );
  try {
    // Not /tmp: the container's /tmp is its own; /kind is in the image.
    await run("docker", ["cp", imagesTar, `${id}:/kind/images.tar`], { log });
    await run("docker", ["exec", id, "bash", "-c", "nohup containerd > /dev/null 2>&1 &"]);
    await run("docker", [
      "exec",
      id,
      "bash",
      "-c",
      "for i in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && ctr info >/dev/null && exit 0; sleep 1; done; exit 1",
    ]);
    await run(
      "docker",
      [
        "exec",
        id,
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--label=io.cri-containerd.pinned=pinned",
        "--all-platforms",
        "--no-unpack",
        "--digests",
        "/kind/images.tar",
      ],
      { log },
    );
    await run("docker", ["exec", id, "sh", "-c", "pkill containerd; rm -f /kind/images.tar"]);
    await new Promise((r) => setTimeout(r, 2000));
    await run(
      "docker",
      [
        "commit",
        "--change",
        'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
        "--change",
        'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""',
        "--change",
        `LABEL dev.thanos-fleet.content=${stamp.trim()}`,
        id,
        NODE_IMAGE,
      ],
      { log },
    );
  } finally {
    await run("docker", ["rm", "-f", "-v", id]).catch(() => undefined);
  }
  await rm(imagesTar, { force: true });
  return undefined;
}
