import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tgzOf, writeImageArchive } from "../testing/tar.ts";
import { tempDir } from "../testing/tempdir.ts";
import { archiveImages } from "./archive.ts";
import { readTarEntry, readTgzEntry } from "./tar.ts";

describe("reading one file out of a tar", () => {
  test("an archive made by tar itself, with a long GNU name before the wanted file", async () => {
    const dir = { path: await tempDir("thanos-fleet-tar-") };
    const deep = join(dir.path, "src", "blobs", "sha256", "a".repeat(64), "b".repeat(60));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, "layer.tar"), "x".repeat(1300));
    await writeFile(join(dir.path, "src", "manifest.json"), '[{"RepoTags":["busybox:1.38"]}]');
    const file = join(dir.path, "images.tar");
    execFileSync("tar", ["-cf", file, "-C", join(dir.path, "src"), "blobs", "manifest.json"]);
    assert.equal(
      (await readTarEntry(file, (n) => n === "manifest.json"))?.toString(),
      '[{"RepoTags":["busybox:1.38"]}]',
    );
    assert.equal(
      (await readTarEntry(file, (n) => n.endsWith("/layer.tar")))?.length,
      1300,
      "a name longer than 100 characters is found",
    );
    assert.equal(await readTarEntry(file, (n) => n === "missing"), undefined);
    assert.deepEqual([...(await archiveImages(file))], ["docker.io/library/busybox:1.38"]);
  });

  test("a chart .tgz: its Chart.yaml under the chart's directory", async () => {
    const tgz = tgzOf({
      "kube-prometheus-stack/Chart.yaml": "name: kube-prometheus-stack\nversion: 88.5.3\n",
    });
    const found = await readTgzEntry(tgz, (n) => /^[^/]+\/Chart\.yaml$/.test(n));
    assert.match(found?.toString() ?? "", /version: 88\.5\.3/);
  });

  test("an image archive's images, by name as containerd gives them; a file that is none says how to make one", async () => {
    const dir = { path: await tempDir("thanos-fleet-tar-") };
    const file = join(dir.path, "images.tar");
    await writeImageArchive(file, ["quay.io/thanos/thanos:v0.42.4", "grafana/grafana:13.2.0"]);
    assert.deepEqual([...(await archiveImages(file))].sort(), [
      "docker.io/grafana/grafana:13.2.0",
      "quay.io/thanos/thanos:v0.42.4",
    ]);
    const notTar = join(dir.path, "notes.txt");
    await writeFile(notTar, "hello");
    await assert.rejects(archiveImages(notTar), /is not an image archive .*thanos-fleet images save/);
    await assert.rejects(archiveImages(join(dir.path, "gone.tar")), /cannot be read \(ENOENT\)/);
  });
});
