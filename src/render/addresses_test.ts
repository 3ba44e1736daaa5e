import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import {
  ADDRESSES_FILE,
  kubeAddresses,
  kubeSpecContext,
  nodeIPVariable,
  placeholder,
  readDiscoveredAddresses,
  writeDiscoveredAddresses,
} from "./addresses.ts";
import { defaultTopology, FAKE_CREDENTIALS, kindAddresses, render } from "./testdata/fixtures.ts";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-addresses-"));
after(() => rm(dir, { recursive: true, force: true }));

describe("Kubernetes addresses", () => {
  const topology = defaultTopology();

  test("services and StatefulSet pods by their in-cluster DNS names", () => {
    const a = kubeAddresses(topology);
    assert.equal(a.service("mgmt", "thanos-query", 10902), "thanos-query.monitoring.svc.cluster.local:10902");
    assert.equal(
      a.pod("mgmt", "thanos-ruler", 1, 10901),
      "thanos-ruler-1.thanos-ruler.monitoring.svc.cluster.local:10901",
    );
  });

  test("exposed ports at the cluster's node address once discovered, a named placeholder before", () => {
    assert.equal(kubeAddresses(topology).exposed("biz1", 31000), `${placeholder("NODE_IP_BIZ1")}:31000`);
    assert.equal(kubeAddresses(topology, kindAddresses(topology)).exposed("biz1", 31000), "172.18.0.3:31000");
    assert.equal(nodeIPVariable("eu-west-1"), "NODE_IP_EU_WEST_1");
    assert.throws(() => kubeAddresses(topology).exposed("nope", 31000), /no cluster named 'nope'/);
  });

  test("a LoadBalancer cluster is reached at its discovered load balancer address", () => {
    const lb = parseFleet(
      {
        clusters: [
          { name: "mgmt", role: "observer" },
          { name: "cloud", role: "workload", context: "prod", serviceType: "LoadBalancer" },
          { name: "minio", role: "storage" },
        ],
      },
      "lb.yaml",
    );
    assert.equal(kubeAddresses(lb).exposed("cloud", 31000), placeholder("LB_CLOUD_31000"));
    const found = { nodeIP: {}, loadBalancer: { cloud: { "31000": "203.0.113.7:10901" } } };
    assert.equal(kubeAddresses(lb, found).exposed("cloud", 31000), "203.0.113.7:10901");
    const fleet = render(lb, false);
    const open = fleet.openAddresses.map((o) => o.variable);
    assert.ok(open.includes("LB_CLOUD_31000") && open.includes("LB_CLOUD_31001"), open.join(" "));
    assert.ok(!open.includes("LB_CLOUD_31100"), "an address nobody dials is asked for");
    const sidecar = fleet.clusters
      .find((c) => c.cluster === "cloud")
      ?.manifests.find((o) => o.metadata.name === "thanos-sidecar-0");
    assert.equal((sidecar?.spec as { type?: string } | undefined)?.type, "LoadBalancer");
  });

  test("the Kubernetes spec context: 0.0.0.0, fixed config and data dirs, 2h blocks", () => {
    const ctx = kubeSpecContext(topology, kubeAddresses(topology), FAKE_CREDENTIALS);
    assert.equal(ctx.listenHost, "0.0.0.0");
    assert.equal(ctx.configDir("thanos-store", "thanos-store"), "/etc/thanos-fleet/thanos-store");
    assert.equal(ctx.dataDir("thanos-store", "thanos-store"), "/var/thanos/thanos-store");
    assert.equal(ctx.blockDuration, "2h");
    assert.equal(ctx.objectStore.endpoint, `${placeholder("NODE_IP_MINIO")}:32000`);
    assert.equal(ctx.objectStore.accessKey, FAKE_CREDENTIALS.thanos.accessKey);
  });

  test("fleet.yaml's blocks set the Kubernetes block length and sync interval, and reach the operator", () => {
    const short = parseFleet(
      { ...DEFAULT_FLEET, blocks: { duration: "5m", syncInterval: "20s" } },
      "short.yaml",
    );
    const ctx = kubeSpecContext(short, kubeAddresses(short), FAKE_CREDENTIALS);
    assert.equal(ctx.blockDuration, "5m");
    assert.equal(ctx.bucketSyncInterval, "20s");
    const blockSize = (t: typeof short) => {
      const values = render(t).clusters.find((c) => c.cluster === "biz1")?.helmValues as {
        prometheus: { prometheusSpec: { disableCompaction: boolean; thanos: { blockSize: string } } };
      };
      // The operator applies blockSize only with compaction disabled (its compactionModeFor, v0.93.1).
      assert.equal(values.prometheus.prometheusSpec.disableCompaction, true);
      return values.prometheus.prometheusSpec.thanos.blockSize;
    };
    assert.equal(blockSize(short), "5m");
    assert.equal(blockSize(defaultTopology()), "2h");
  });

  test("only the placeholders some file really uses are listed, each with the command that fills it", () => {
    const fleet = render(topology, false);
    assert.deepEqual(
      fleet.openAddresses.map((o) => o.variable),
      ["NODE_IP_MGMT", "NODE_IP_BIZ1", "NODE_IP_BIZ2", "NODE_IP_MINIO"],
    );
    assert.equal(
      fleet.openAddresses[0]?.command,
      `kubectl --context kind-mgmt get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}'`,
    );
    assert.deepEqual(render(topology, true).openAddresses, []);
    assert.ok(!JSON.stringify(render(topology, true).clusters).includes("${"));
  });
});

describe("discovered addresses in the state dir", () => {
  test("absent before the first up", async () => {
    assert.equal(await readDiscoveredAddresses(join(dir, "never")), undefined);
  });

  test("written by the runtime, read back by render, mode 0600", async () => {
    const state = join(dir, "state");
    const found = { nodeIP: { mgmt: "172.18.0.2", biz1: "172.18.0.3" } };
    await writeDiscoveredAddresses(state, found);
    assert.deepEqual(await readDiscoveredAddresses(state), found);
    assert.equal((await stat(join(state, ADDRESSES_FILE))).mode & 0o777, 0o600);
    assert.match(await readFile(join(state, ADDRESSES_FILE), "utf8"), /"biz1": "172\.18\.0\.3"/);
  });

  test("a damaged file says which file and what to do", async () => {
    const state = join(dir, "damaged");
    await writeDiscoveredAddresses(state, { nodeIP: {} });
    await writeFile(join(state, ADDRESSES_FILE), '{"nodeIP": {"mgmt": 3}}');
    await assert.rejects(readDiscoveredAddresses(state), (e: Error) => {
      assert.match(e.message, /addresses\.json are not valid; delete the file and run 'thanos-fleet up'/);
      assert.ok(e.cause);
      return true;
    });
  });
});
