import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FakeWorld } from "../../../testing/kube/fake-world.ts";
import { recordedRuntime } from "../../state/runtime.ts";
import { readState } from "./state.ts";
import { addCloudClusters, assertGolden, defaultTopology, harness, topologyOf } from "./testdata/fixtures.ts";

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe("down deletes the kind clusters thanos-fleet created and nothing else", () => {
  it("default fleet: deletes the four clusters; a second down does nothing", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      const mark = h.world.recorder.mark();
      await h.down();
      await assertGolden("down-default.txt", h.world.recorder.since(mark));
      assert.deepEqual([...h.world.kindClusters.keys()], []);
      assert.equal(h.world.kindNetwork, false, "the kind network that up created is gone");
      assert.deepEqual((await readState(h.stateDir)).clusters, {});

      const again = h.world.recorder.mark();
      await h.down();
      assert.deepEqual(h.world.recorder.since(again), [
        "> nothing to remove: thanos-fleet has installed nothing on Kubernetes from this state dir",
      ]);
    } finally {
      await h.cleanup();
    }
  });

  it("leaves a kind cluster it reused alone, removing only what it installed there", async () => {
    const world = new FakeWorld();
    const h = await harness(defaultTopology(), world);
    try {
      // Someone made biz1 by hand before the first up.
      await world.exec.run("kind", ["create", "cluster", "--name", "biz1"]);
      const own = world.fakeApi("kind-biz1");
      await own.serverSideApply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "monitoring" } });
      await own.serverSideApply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "theirs", namespace: "monitoring", labels: { team: "biz1" } },
      });
      await h.up();
      const mark = h.world.recorder.mark();
      await h.down();
      const lines = h.world.recorder.since(mark);
      await assertGolden("down-reused-kind.txt", lines);
      assert.deepEqual([...world.kindClusters.keys()], ["biz1"], "only the clusters it created are gone");
      assert.equal(world.kindNetwork, true, "the kind network was there before up: it stays");
      assert.deepEqual(
        [...own.objects.values()].map((s) => `${s.obj.kind}/${s.obj.metadata.name}`).sort(),
        ["ConfigMap/theirs", "Namespace/monitoring"],
        "the namespace that existed before, and what others put in it, stay",
      );
      assert.equal(world.helmReleases.size, 0);
    } finally {
      await h.cleanup();
    }
  });

  it("on existing clusters: helm uninstall, the labelled objects, the namespaces it created; --purge drops the state", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["prod-mgmt", "prod-eu1"]);
    const h = await harness(await topologyOf("existing.yaml"), world);
    try {
      await h.up();
      assert.equal(await recordedRuntime(h.stateDir), "kubernetes");
      const mark = h.world.recorder.mark();
      await h.down(true);
      await assertGolden("down-existing.txt", h.world.recorder.since(mark));
      assert.equal(await recordedRuntime(h.stateDir), undefined, "--purge drops the record of the runtime");
      for (const context of ["prod-mgmt", "prod-eu1"]) {
        assert.deepEqual([...world.fakeApi(context).objects.keys()], [], `${context} is as before up`);
      }
      assert.ok(
        world.apis.has("prod-mgmt") && world.apis.has("prod-eu1"),
        "existing clusters are never deleted",
      );
      assert.ok(!world.kindClusters.has("lab"));
      assert.equal(await exists(join(h.stateDir, "kube")), false);
      assert.equal(await exists(join(h.stateDir, "addresses.json")), false);
      assert.equal(
        await exists(join(h.stateDir, "credentials.yaml")),
        false,
        "--purge deletes the credentials thanos-fleet generated once no fleet is recorded",
      );

      const again = h.world.recorder.mark();
      await h.down(true);
      assert.equal(h.world.recorder.since(again).length, 1);
    } finally {
      await h.cleanup();
    }
  });

  it("never touches a cluster when the state dir records nothing (a fleet up from another state dir)", async () => {
    const world = new FakeWorld();
    await world.exec.run("kind", ["create", "cluster", "--name", "mgmt"]);
    const h = await harness(defaultTopology(), world);
    try {
      await h.down();
      assert.deepEqual([...world.kindClusters.keys()], ["mgmt"]);
    } finally {
      await h.cleanup();
    }
  });
});
