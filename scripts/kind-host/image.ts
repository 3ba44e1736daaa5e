// Images made from files on this machine (no registry): a directory tarred into `docker import`, with the
// image config a Dockerfile would set. A label holds a hash of the content, so an unchanged image is not rebuilt.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { run, succeeds } from "./run.ts";

export interface ImageFile {
  /** Absolute path inside the image. */
  path: string;
  /** A file on this machine to copy, or literal content. */
  from?: string;
  content?: string;
  mode?: number;
  /** Makes `path` a symlink to this target instead. */
  link?: string;
}

export interface ImageSpec {
  /** repository:tag, exactly as manifests and charts name it. */
  ref: string;
  files: readonly ImageFile[];
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  user?: string;
  workdir?: string;
  env?: Readonly<Record<string, string>>;
  stopSignal?: string;
}

const LABEL = "dev.thanos-fleet.content";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The CA bundle of this machine and the passwd/group entries the official images' USER names need. */
export function baseFiles(): ImageFile[] {
  return [
    { path: CA_BUNDLE, from: CA_BUNDLE, mode: 0o644 },
    {
      path: "/etc/passwd",
      content: "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/home:/sbin/nologin\n",
    },
    { path: "/etc/group", content: "root:x:0:\nnobody:x:65534:\n" },
    { path: "/tmp", content: undefined, mode: 0o1777 },
  ];
}

async function contentHash(spec: ImageSpec): Promise<string> {
  const h = createHash("sha256");
  h.update(JSON.stringify({ ...spec, files: spec.files.map((f) => ({ ...f, from: undefined })) }));
  for (const f of spec.files) {
    if (!f.from) continue;
    await new Promise<void>((resolve, reject) => {
      createReadStream(f.from as string)
        .on("data", (b) => h.update(b))
        .on("end", resolve)
        .on("error", reject);
    });
  }
  return h.digest("hex").slice(0, 16);
}

export async function imageLabel(ref: string): Promise<string | undefined> {
  try {
    const out = await run("docker", [
      "image",
      "inspect",
      "--format",
      `{{index .Config.Labels "${LABEL}"}}`,
      ref,
    ]);
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

export function imageExists(ref: string): Promise<boolean> {
  return succeeds("docker", ["image", "inspect", ref]);
}

/** Builds `spec` into the local Docker daemon unless an image with the same content is there. */
export async function ensureImage(spec: ImageSpec, workDir: string): Promise<"cached" | undefined> {
  const hash = await contentHash(spec);
  if ((await imageLabel(spec.ref)) === hash) return "cached";
  await mkdir(workDir, { recursive: true });
  const root = await mkdtemp(join(workDir, "image-"));
  try {
    for (const f of spec.files) {
      const dest = join(root, f.path);
      await mkdir(dirname(dest), { recursive: true });
      if (f.link !== undefined) await symlink(f.link, dest);
      else if (f.from !== undefined) await copyFile(f.from, dest);
      else if (f.content !== undefined) await writeFile(dest, f.content);
      else await mkdir(dest, { recursive: true });
      if (f.mode !== undefined && f.link === undefined) await chmod(dest, f.mode);
      else if (f.from !== undefined && f.link === undefined) await chmod(dest, 0o755);
    }
    const changes = [`LABEL ${LABEL}=${hash}`];
    if (spec.entrypoint) changes.push(`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`);
    if (spec.cmd) changes.push(`CMD ${JSON.stringify(spec.cmd)}`);
    if (spec.user) changes.push(`USER ${spec.user}`);
    if (spec.workdir) changes.push(`WORKDIR ${spec.workdir}`);
    for (const [k, v] of Object.entries(spec.env ?? {})) changes.push(`ENV ${k}=${v}`);
    const args = ["import", ...changes.flatMap((c) => ["-c", c])];
    const tar = join(workDir, `${root.split("/").pop()}.tar`);
    await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", tar, "."]);
    await run("docker", [...args, tar, spec.ref]);
    await rm(tar, { force: true });
    return undefined;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
