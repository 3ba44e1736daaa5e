import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeWorld, nodeObject } from "../../../testing/kube/fake-world.ts";
import { findRelease } from "./helm.ts";

const release = { name: "kube-prometheus-stack", namespace: "monitoring", context: "kind-biz1" };

describe("helm list on Helm 3 and Helm 4", () => {
  for (const [version, all] of [
    ["v3.19.0+g3d8990f", true],
    ["v3.21.4+g1a2b3c4", true],
    ["v4.0.1+g12500dd", false],
    ["v4.2.4+g5d6e7f8", false],
  ] as const) {
    test(`${version}: finds the release in any state${all ? " (--all)" : " (every state by default; no --all)"}, asking the version once`, async () => {
      const world = new FakeWorld();
      world.versions.helm = version;
      world.addExistingCluster("kind-biz1", [
        nodeObject({ name: "biz1-control-plane", internalIP: "172.18.0.3", controlPlane: true }),
      ]);
      world.helmReleases.set("kind-biz1|monitoring|kube-prometheus-stack", {
        chart: "kube-prometheus-stack-88.5.3",
        values: {},
        revision: 1,
      });
      assert.equal((await findRelease(world.exec, release))?.name, "kube-prometheus-stack");
      assert.equal((await findRelease(world.exec, { ...release, name: "other" }))?.name, undefined);
      const lists = world.recorder.lines.filter((l) => l.startsWith("$ helm list"));
      assert.equal(lists.length, 2);
      for (const l of lists) assert.equal(l.includes(" --all"), all, l);
      assert.equal(world.recorder.lines.filter((l) => l === "$ helm version --short").length, 1);
    });
  }

  test("the fake rejects what each Helm version rejects", async () => {
    const world = new FakeWorld();
    world.versions.helm = "v4.2.4+g5d6e7f8";
    world.addExistingCluster("kind-biz1", [
      nodeObject({ name: "biz1-control-plane", internalIP: "172.18.0.3", controlPlane: true }),
    ]);
    await assert.rejects(
      world.exec.run("helm", ["list", "--kube-context", "kind-biz1", "--all"]),
      /unknown flag: --all/,
    );
  });
});
