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

  /** A pod of thanos-store that nothing deletes: a finalizer holds it, or its node no longer answers. */
  const heldPod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "thanos-store-0",
      namespace: "monitoring",
      labels: { "app.kubernetes.io/managed-by": "thanos-fleet" },
      finalizers: ["example.com/hold"],
      deletionTimestamp: "2026-12-07T03:00:00Z",
    },
  };

  it("on existing clusters: past the deadline, fails naming what is left and what to do; the state keeps the cluster", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["prod-mgmt", "prod-eu1"]);
    const h = await harness(await topologyOf("existing.yaml"), world);
    try {
      await h.up();
      world.fakeApi("prod-mgmt").put(heldPod);
      const lines: string[] = [];
      const reporter = { step: () => () => {}, info: (l: string) => lines.push(l), verbose: () => {} };
      const opts = { stateDir: h.stateDir, reporter, verbose: false, purge: true, waitMs: 90_000 };
      const down = h.runtime.down(h.topology, { ...opts, signal: new AbortController().signal });
      await assert.rejects(down, (err: Error) => {
        assert.match(
          err.message,
          /^after 1m30s, what down deleted is still there: mgmt \(context prod-mgmt\): /,
        );
        assert.match(err.message, /Pod monitoring\/thanos-store-0 \(finalizers: example\.com\/hold\)/);
        assert.match(err.message, /Namespace monitoring/);
        assert.match(err.message, /run 'thanos-fleet down' again/);
        assert.match(err.message, /'kubectl --context prod-mgmt -n monitoring get all,pvc'/);
        assert.doesNotMatch(err.message, /eu1/, "eu1's objects are gone: it is not named");
        return true;
      });
      assert.match(lines.join("\n"), /2 still being deleted: mgmt: Pod monitoring\/thanos-store-0/);
      assert.deepEqual(
        Object.keys((await readState(h.stateDir)).clusters),
        ["mgmt"],
        "the cluster whose objects are still there stays recorded, and --purge did not drop the state",
      );
      assert.equal(await recordedRuntime(h.stateDir), "kubernetes");

      // Whatever held the pod lets go: the next down finds nothing left and finishes.
      world.fakeApi("prod-mgmt").objects.clear();
      await h.runtime.down(h.topology, { ...opts, signal: new AbortController().signal });
      assert.deepEqual((await readState(h.stateDir)).clusters, {});
    } finally {
      await h.cleanup();
    }
  });

  it("on existing clusters: interrupted while waiting, says what may remain; a second down finishes", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["prod-mgmt", "prod-eu1"]);
    const h = await harness(await topologyOf("existing.yaml"), world);
    try {
      await h.up();
      world.fakeApi("prod-mgmt").put(heldPod);
      const ctrl = new AbortController();
      // Ctrl-C as the first progress line is printed.
      const reporter = {
        step: () => () => {},
        info: () => ctrl.abort(new Error("interrupted")),
        verbose: () => {},
      };
      const opts = { stateDir: h.stateDir, reporter, verbose: false, purge: false };
      await assert.rejects(h.runtime.down(h.topology, { ...opts, signal: ctrl.signal }), (err: Error) => {
        assert.match(err.message, /^interrupted while waiting for what down deleted to be gone/);
        assert.match(err.message, /may remain: mgmt \(context prod-mgmt\): Pod monitoring\/thanos-store-0/);
        assert.match(err.message, /run 'thanos-fleet down' again to finish/);
        return true;
      });
      assert.deepEqual(Object.keys((await readState(h.stateDir)).clusters), ["mgmt"]);
      world.fakeApi("prod-mgmt").objects.clear();
      const mark = world.recorder.mark();
      await h.runtime.down(h.topology, { ...opts, signal: new AbortController().signal });
      assert.ok(
        world.recorder.since(mark).some((l) => l.includes("helm uninstall") && l.includes("prod-mgmt")) ===
          false,
        "mgmt has no Helm release",
      );
      assert.deepEqual((await readState(h.stateDir)).clusters, {});
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
