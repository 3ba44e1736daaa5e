import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { FakeWorld } from "../../../testing/kube/fake-world.ts";
import { tgzOf, writeImageArchive } from "../../../testing/tar.ts";
import { tempDir } from "../../../testing/tempdir.ts";
import { imagesSaveCommand, listImages } from "../../commands/images.ts";
import { archiveImages } from "../../images/archive.ts";
import { fleetImages, normalizeImage } from "../../render/images.ts";
import { renderFleet } from "../../render/render.ts";
import { parseFleetYaml } from "../../topology/load.ts";
import type { Topology } from "../../topology/topology.ts";
import { PINNED } from "../../versions.ts";
import { PreflightError, preflight } from "./preflight.ts";
import {
  assertGolden,
  defaultTopology,
  fakeRenderOptions,
  harness,
  recordingReporter,
} from "./testdata/fixtures.ts";

const CLUSTERS = `clusters:
  - { name: mgmt, role: observer }
  - { name: biz1, role: workload }
  - { name: biz2, role: workload }
  - { name: minio, role: storage }
`;

/** A fleet.yaml written into dir (relative paths in it are relative to dir). */
async function fleetIn(dir: string, head: string): Promise<Topology> {
  const file = join(dir, "fleet.yaml");
  const text = `${head}\n${CLUSTERS}`;
  await writeFile(file, text);
  return parseFleetYaml(text, file);
}

/** The images of the topology's nodes, as `images save` would write them. */
async function archiveFor(topology: Topology, file: string, leaveOut: string[] = []): Promise<void> {
  const images = listImages(topology)
    .filter((i) => !i.kindNode && !leaveOut.includes(i.image))
    .map((i) => i.image);
  await writeImageArchive(file, images);
}

/** A machine whose Docker holds the kind node image, as an offline machine must. */
function offlineWorld(): FakeWorld {
  const world = new FakeWorld();
  world.dockerImages.add(normalizeImage(PINNED.kindNodeImage));
  return world;
}

async function chartDir(
  dir: string,
  version = "88.5.3",
  deps = ["crds", "kube-state-metrics", "prometheus-node-exporter", "grafana", "prometheus-windows-exporter"],
) {
  const path = join(dir, "kube-prometheus-stack");
  await mkdir(join(path, "charts", "crds"), { recursive: true });
  await writeFile(
    join(path, "Chart.yaml"),
    `apiVersion: v2\nname: kube-prometheus-stack\nversion: ${version}\ndependencies:\n${[
      "crds",
      "kube-state-metrics",
      "prometheus-node-exporter",
      "grafana",
      "prometheus-windows-exporter",
    ]
      .map((d) => `  - name: ${d}\n    version: "1.0.0"\n`)
      .join("")}`,
  );
  for (const d of deps.filter((x) => x !== "crds"))
    await writeFile(join(path, "charts", `${d}-1.0.0.tgz`), "");
  return path;
}

describe("up --images: the archive goes into every kind node before anything is applied", () => {
  it("loads into each cluster once, before addresses and Secrets; a second up finds every image and loads nothing", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    const topology = defaultTopology();
    const archive = join(dir, "images.tar");
    await archiveFor(topology, archive);
    const h = await harness(topology, offlineWorld());
    h.world.recorder.substitutions.push([dir, "$IMAGES"]);
    const up = () =>
      h.runtime.up(topology, {
        stateDir: h.stateDir,
        reporter: recordingReporter(h.world.recorder),
        signal: new AbortController().signal,
        verbose: false,
        images: archive,
      });
    try {
      await up();
      const lines = h.world.recorder.lines;
      await assertGolden("up-images.txt", lines);
      const load = lines.findIndex((l) => l.startsWith("## images from"));
      assert.ok(load > lines.map((l) => l.includes("kind create cluster")).lastIndexOf(true));
      assert.ok(
        load < lines.findIndex((l) => l.includes(" apply ")),
        "nothing is applied before the images are in",
      );
      assert.ok(load < lines.findIndex((l) => l.startsWith("$ helm upgrade")));
      // Each node holds what its cluster runs, and nothing else of the archive.
      const all = await archiveImages(archive);
      const used = fleetImages(topology, renderFleet(topology, { ...fakeRenderOptions(topology) }).clusters);
      for (const [cluster, nodes] of h.world.kindClusters) {
        const runs = used
          .filter((i) => !i.kindNode && i.usedBy.some((u) => u.cluster === cluster))
          .map((i) => normalizeImage(i.image))
          .sort();
        assert.ok(runs.length > 0 && runs.length < all.size, `${cluster} runs some of the archive's images`);
        for (const node of nodes)
          assert.deepEqual([...(h.world.nodeImages.get(node) ?? [])].sort(), runs, node);
      }
      assert.ok(!h.world.nodeImages.get("minio-worker")?.has(`quay.io/thanos/thanos:${PINNED.thanos}`));

      const mark = h.world.recorder.mark();
      await up();
      const again = h.world.recorder.since(mark);
      await assertGolden("up-images-again.txt", again);
      assert.ok(!again.some((l) => l.startsWith("$ kind load")), "a second up loads nothing");
    } finally {
      await h.cleanup();
    }
  });

  it("loads again into a cluster whose node lost an image, and only there", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    const topology = defaultTopology();
    const archive = join(dir, "images.tar");
    await archiveFor(topology, archive);
    const h = await harness(topology, offlineWorld());
    const up = () =>
      h.runtime.up(topology, {
        stateDir: h.stateDir,
        reporter: recordingReporter(h.world.recorder),
        signal: new AbortController().signal,
        verbose: false,
        images: archive,
      });
    try {
      await up();
      h.world.nodeImages.get("biz2-worker")?.delete(`quay.io/thanos/thanos:${PINNED.thanos}`);
      const mark = h.world.recorder.mark();
      await up();
      const loads = h.world.recorder.since(mark).filter((l) => l.startsWith("$ kind load"));
      assert.deepEqual(
        loads.map((l) => l.replace(h.stateDir, "$STATE")),
        ["$ kind load image-archive $STATE/kube/biz2/images.tar --name biz2"],
      );
    } finally {
      await h.cleanup();
    }
  });

  it("fleet.yaml's images.archive, relative to fleet.yaml, does the same", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    const topology = await fleetIn(dir, "images: { archive: images.tar }");
    await archiveFor(topology, join(dir, "images.tar"));
    const h = await harness(topology, offlineWorld());
    try {
      await h.up();
      const loads = h.world.recorder.lines.filter((l) => l.startsWith("$ kind load"));
      assert.deepEqual(
        loads,
        ["mgmt", "biz1", "biz2", "minio"].map(
          (c) => `$ kind load image-archive $STATE/kube/${c}/images.tar --name ${c}`,
        ),
      );
      assert.ok(h.world.nodeImages.get("minio-worker")?.has(normalizeImage(PINNED.seaweedfsImage)));
    } finally {
      await h.cleanup();
    }
  });
});

describe("preflight names a missing image or chart before anything is created", () => {
  const check = async (topology: Topology, world: FakeWorld, imagesArchive?: string) => {
    const fleet = renderFleet(topology, { ...fakeRenderOptions(topology) });
    try {
      await preflight(topology, fleet.clusters, {
        exec: world.exec,
        api: world.api,
        platform: "linux",
        readSysctl: async (name) => world.sysctl[name],
        ...(imagesArchive ? { imagesArchive } : {}),
      });
      return [];
    } catch (error) {
      assert.ok(error instanceof PreflightError, String(error));
      return error.problems.map((p) => `${p.message} | fix: ${p.fix}`);
    }
  };

  it("an image the archive lacks, with the clusters and components that run it; the kind node image not in Docker", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    const topology = defaultTopology();
    const archive = join(dir, "images.tar");
    await archiveFor(topology, archive, ["docker.io/grafana/grafana:13.2.0"]);
    const problems = await check(topology, new FakeWorld(), archive);
    assert.deepEqual(problems, [
      `image docker.io/grafana/grafana:13.2.0 (biz1/grafana, biz2/grafana) is not in the image archive ${archive} | fix: save the archive again with 'thanos-fleet images save' where Docker has the image, or turn that component off with kubePrometheusStackValues in fleet.yaml`,
      `the kind node image ${PINNED.kindNodeImage} is not in the local Docker, and kind cannot pull it offline | fix: 'docker save ${PINNED.kindNodeImage.split("@")[0]}' where it can be pulled, then 'docker load' it here`,
    ]);
    assert.deepEqual(await check(topology, offlineWorld(), archive).then((p) => p.length), 1);
  });

  it("an archive that is missing or no image archive", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    const [problem] = await check(defaultTopology(), offlineWorld(), join(dir, "nope.tar"));
    assert.match(
      problem ?? "",
      /image archive .*nope\.tar cannot be read \(ENOENT\).*fix: run 'thanos-fleet images save/,
    );
  });

  it("a complete archive and a local chart of the pinned version pass", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    await chartDir(dir);
    const topology = await fleetIn(dir, "chart: { path: kube-prometheus-stack }");
    await archiveFor(topology, join(dir, "images.tar"));
    assert.deepEqual(await check(topology, offlineWorld(), join(dir, "images.tar")), []);
    await writeFile(
      join(dir, "kps.tgz"),
      tgzOf({ "kube-prometheus-stack/Chart.yaml": "name: kube-prometheus-stack\nversion: 88.5.3\n" }),
    );
    assert.deepEqual(await check(await fleetIn(dir, "chart: { path: kps.tgz }"), offlineWorld()), []);
  });

  it("a local chart that is missing, of another version, or without its dependencies", async () => {
    const dir = await tempDir("thanos-fleet-images-");
    assert.match(
      (await check(await fleetIn(dir, "chart: { path: kube-prometheus-stack }"), new FakeWorld()))[0] ?? "",
      /the chart .*kube-prometheus-stack \(chart\.path in fleet\.yaml\) cannot be read \(ENOENT\) \| fix: 'helm pull prometheus-community\/kube-prometheus-stack --version 88\.5\.3'/,
    );
    await writeFile(
      join(dir, "old.tgz"),
      tgzOf({ "kube-prometheus-stack/Chart.yaml": "name: kube-prometheus-stack\nversion: 87.0.0\n" }),
    );
    assert.deepEqual(await check(await fleetIn(dir, "chart: { path: old.tgz }"), new FakeWorld()), [
      `the chart ${join(dir, "old.tgz")} (chart.path) is kube-prometheus-stack 87.0.0; fleet.yaml pins versions.kubePrometheusStack 88.5.3 | fix: use the chart of 88.5.3, or set versions.kubePrometheusStack: 87.0.0 in fleet.yaml`,
    ]);
    const path = await chartDir(dir, "88.5.3", ["crds", "kube-state-metrics", "prometheus-node-exporter"]);
    const problems = await check(
      await fleetIn(dir, "chart: { path: kube-prometheus-stack }"),
      new FakeWorld(),
    );
    assert.deepEqual(
      problems.map((p) => p.split(" | ")[0]),
      [
        `the chart directory ${path} (chart.path) lacks its dependency grafana 1.0.0 in charts/`,
        `the chart directory ${path} (chart.path) lacks its dependency prometheus-windows-exporter 1.0.0 in charts/`,
      ],
    );
  });
});

describe("up from a local chart", () => {
  it("installs from the path with no repository; a second up finds the release up to date", async () => {
    const dir = await tempDir("thanos-fleet-chart-");
    const path = await chartDir(dir);
    const topology = await fleetIn(dir, "chart: { path: kube-prometheus-stack }");
    const h = await harness(topology);
    try {
      await h.up();
      const helm = h.world.recorder.lines.filter((l) => l.startsWith("$ helm") && !l.includes("version"));
      assert.ok(!helm.some((l) => l.startsWith("$ helm repo")));
      const installs = helm.filter((l) => l.startsWith("$ helm upgrade"));
      assert.equal(installs.length, 2);
      for (const l of installs) {
        assert.ok(
          l.startsWith(`$ helm upgrade --install kube-prometheus-stack ${path} --kube-context kind-biz`),
          l,
        );
        assert.ok(!l.includes("--version"), l);
      }
      const mark = h.world.recorder.mark();
      await h.up();
      assert.ok(!h.world.recorder.since(mark).some((l) => l.startsWith("$ helm upgrade")));
    } finally {
      await h.cleanup();
    }
  });
});

describe("thanos-fleet images save", () => {
  it("names every image the local Docker lacks and writes nothing", async () => {
    const dir = await tempDir("thanos-fleet-save-");
    const world = new FakeWorld();
    const topology = defaultTopology();
    for (const i of listImages(topology))
      if (!/grafana|k8s-sidecar/.test(i.image)) world.dockerImages.add(normalizeImage(i.image));
    const file = join(dir, "images.tar");
    await assert.rejects(
      imagesSaveCommand(topology, file, { exec: world.exec, stdout: new PassThrough() }),
      (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, 2);
        assert.match(error.message, /^2 images are not in the local Docker; nothing was written:\n/);
        assert.match(
          error.message,
          / {2}- docker\.io\/grafana\/grafana:13\.2\.0 \(biz1\/grafana, biz2\/grafana\)\n/,
        );
        assert.match(
          error.message,
          / {2}- quay\.io\/kiwigrid\/k8s-sidecar:2\.10\.1 \(biz1\/grafana-sidecar, biz2\/grafana-sidecar\)\n/,
        );
        return true;
      },
    );
    assert.ok(!existsSync(file));
    assert.ok(!world.recorder.lines.some((l) => l.startsWith("$ docker save")));
  });

  it("saves exactly the listed images, the kind node image aside, and says how to load them", async () => {
    const dir = await tempDir("thanos-fleet-save-");
    const world = new FakeWorld();
    const topology = defaultTopology();
    const listed = listImages(topology);
    for (const i of listed) world.dockerImages.add(normalizeImage(i.image));
    const file = join(dir, "images.tar");
    const stdout = new PassThrough();
    const saved = await imagesSaveCommand(topology, file, { exec: world.exec, stdout });
    const want = listed.filter((i) => !i.kindNode).map((i) => normalizeImage(i.image));
    assert.deepEqual([...(await archiveImages(file))].sort(), want.sort());
    assert.equal(saved.length, want.length);
    const text = String(stdout.read());
    assert.match(
      text,
      /wrote .*images\.tar \(0 MiB\): 11 images; load them with 'thanos-fleet up --images .*images\.tar'/,
    );
    assert.match(text, /the kind node image is not in it/);
  });
});
