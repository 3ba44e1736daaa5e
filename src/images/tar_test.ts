import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tgzOf, writeImageArchive } from "../../testing/tar.ts";
import { tempDir } from "../../testing/tempdir.ts";
import { readTarEntry, readTgzEntry } from "../tar.ts";
import { archiveImages, writeArchiveSubset } from "./archive.ts";

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

describe("an image archive cut down to the images one cluster runs", () => {
  test("keeps their configs, layers and layer directories byte for byte, drops the rest; tar reads the result", async () => {
    const dir = await tempDir("thanos-fleet-subset-");
    const src = join(dir, "src");
    // `docker save` before Docker 25: a directory per layer, a config per image, manifest.json naming them.
    const layout: Record<string, string> = {
      "aaa/VERSION": "1.0",
      "aaa/json": '{"id":"aaa"}',
      "aaa/layer.tar": "thanos layer ".repeat(100),
      "bbb/VERSION": "1.0",
      "bbb/json": '{"id":"bbb"}',
      "bbb/layer.tar": "seaweedfs layer ".repeat(300),
      "ccc/VERSION": "1.0",
      "ccc/json": '{"id":"ccc"}',
      "ccc/layer.tar": "shared base layer",
      "c1.json": '{"config":"thanos"}',
      "c2.json": '{"config":"seaweedfs"}',
      repositories: "{}",
    };
    for (const [name, content] of Object.entries(layout)) {
      await mkdir(join(src, name, ".."), { recursive: true });
      await writeFile(join(src, name), content);
    }
    const manifest = [
      {
        Config: "c1.json",
        RepoTags: ["quay.io/thanos/thanos:v0.42.4"],
        Layers: ["ccc/layer.tar", "aaa/layer.tar"],
      },
      {
        Config: "c2.json",
        RepoTags: ["chrislusf/seaweedfs:4.53"],
        Layers: ["ccc/layer.tar", "bbb/layer.tar"],
      },
    ];
    await writeFile(join(src, "manifest.json"), JSON.stringify(manifest));
    const file = join(dir, "images.tar");
    execFileSync("tar", [
      "-cf",
      file,
      "-C",
      src,
      "aaa",
      "bbb",
      "ccc",
      "c1.json",
      "c2.json",
      "repositories",
      "manifest.json",
    ]);

    const dest = join(dir, "mgmt.tar");
    const written = await writeArchiveSubset(file, dest, new Set(["quay.io/thanos/thanos:v0.42.4"]));
    assert.deepEqual([...written], ["quay.io/thanos/thanos:v0.42.4"]);
    const listed = execFileSync("tar", ["-tf", dest], { encoding: "utf8" }).trim().split("\n").sort();
    assert.deepEqual(listed, [
      "aaa/",
      "aaa/VERSION",
      "aaa/json",
      "aaa/layer.tar",
      "c1.json",
      "ccc/",
      "ccc/VERSION",
      "ccc/json",
      "ccc/layer.tar",
      "manifest.json",
    ]);
    const out = join(dir, "out");
    await mkdir(out);
    execFileSync("tar", ["-xf", dest, "-C", out]);
    for (const name of ["aaa/layer.tar", "ccc/layer.tar", "c1.json"]) {
      assert.equal(await readFile(join(out, name), "utf8"), layout[name], name);
    }
    assert.deepEqual(JSON.parse(await readFile(join(out, "manifest.json"), "utf8")), [manifest[0]]);
    assert.deepEqual([...(await archiveImages(dest))], ["quay.io/thanos/thanos:v0.42.4"]);
  });
});
