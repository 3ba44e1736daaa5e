import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../testing/tempdir.ts";
import { extractMember } from "./tar.ts";

/** A .tar.gz of `dir` under `root`, made by tar in the given format. */
function tar(root: string, dir: string, format: string): string {
  const out = join(root, `${format}.tar.gz`);
  execFileSync("tar", [`--format=${format}`, "-czf", out, "-C", root, dir]);
  return out;
}

test("only the named member comes out, whole and executable, in every format GNU tar writes", async () => {
  const root = await tempDir("tf-untar-");
  // A path over 100 bytes needs a GNU long-name entry, a pax record or the ustar prefix.
  const deep = `thanos-0.42.4.linux-amd64/${"d".repeat(60)}/${"e".repeat(50)}`;
  await mkdir(join(root, deep), { recursive: true });
  const big = Buffer.alloc(700_000, 7);
  await writeFile(join(root, "thanos-0.42.4.linux-amd64", "LICENSE"), "Apache-2.0\n");
  await writeFile(join(root, "thanos-0.42.4.linux-amd64", "thanos"), big);
  await writeFile(join(root, deep, "thanos"), "deep\n");
  for (const format of ["gnu", "pax", "ustar"]) {
    const archive = tar(root, "thanos-0.42.4.linux-amd64", format);
    const out = join(root, `out-${format}`);
    await extractMember(archive, "thanos-0.42.4.linux-amd64/thanos", out);
    assert.ok((await readFile(out)).equals(big), format);
    assert.equal((await stat(out)).mode & 0o777, 0o755, format);
    await extractMember(archive, `${deep}/thanos`, `${out}-deep`);
    assert.equal(await readFile(`${out}-deep`, "utf8"), "deep\n", format);
  }
});

test("a missing member and a link in its place are errors", async () => {
  const root = await tempDir("tf-untar-");
  await mkdir(join(root, "etcd-v3.6.16-linux-amd64"));
  await writeFile(join(root, "etcd-v3.6.16-linux-amd64", "README.md"), "etcd\n");
  await symlink("/bin/sh", join(root, "etcd-v3.6.16-linux-amd64", "etcd"));
  const archive = tar(root, "etcd-v3.6.16-linux-amd64", "gnu");
  await assert.rejects(
    extractMember(archive, "etcd-v3.6.16-linux-amd64/etcdctl", join(root, "out")),
    /holds no etcd-v3\.6\.16-linux-amd64\/etcdctl$/,
  );
  await assert.rejects(
    extractMember(archive, "etcd-v3.6.16-linux-amd64/etcd", join(root, "out")),
    /etcd-v3\.6\.16-linux-amd64\/etcd in .* is not a regular file \(tar type "2"\)/,
  );
});

test("a file that is not gzip, and one that is not there, are errors", async () => {
  const root = await tempDir("tf-untar-");
  const notGzip = join(root, "thanos.tar.gz");
  await writeFile(notGzip, "<html>rate limited</html>\n");
  await assert.rejects(extractMember(notGzip, "thanos", join(root, "out")), /incorrect header check/);
  await assert.rejects(extractMember(join(root, "gone.tar.gz"), "thanos", join(root, "out")), {
    code: "ENOENT",
  });
});
