import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { FakeWorld, nodeObject } from "../../../testing/kube/fake-world.ts";
import { renderFleet } from "../../render/render.ts";
import { discoverAddresses, loadBalancerAddresses, nodeAddress } from "./discover.ts";
import { addCloudClusters, defaultTopology, fakeRenderOptions, topologyOf } from "./testdata/fixtures.ts";
import { fakeClock } from "./wait.ts";

function dualStack(name: string, v6: string, v4: string): V1Node {
  const node = nodeObject({ name, internalIP: v6 });
  node.status?.addresses?.splice(1, 0, { type: "InternalIP", address: v4 });
  return node;
}

describe("one node address per cluster, from the Node objects", () => {
  const cases: { name: string; nodes: V1Node[]; want: string }[] = [
    {
      name: "kind: the control plane, where the host ports are",
      nodes: [
        nodeObject({ name: "biz1-worker", internalIP: "172.18.0.5" }),
        nodeObject({ name: "biz1-control-plane", internalIP: "172.18.0.4", controlPlane: true }),
      ],
      want: "172.18.0.4",
    },
    {
      name: "a Ready worker before a control plane that is not Ready",
      nodes: [
        nodeObject({
          name: "biz1-control-plane",
          internalIP: "172.18.0.4",
          controlPlane: true,
          ready: false,
        }),
        nodeObject({ name: "biz1-worker2", internalIP: "172.18.0.7" }),
        nodeObject({ name: "biz1-worker", internalIP: "172.18.0.5" }),
      ],
      want: "172.18.0.5",
    },
    {
      name: "nothing Ready yet: still the control plane",
      nodes: [
        nodeObject({ name: "a-worker", internalIP: "172.18.0.9", ready: false }),
        nodeObject({ name: "a-control-plane", internalIP: "172.18.0.8", controlPlane: true, ready: false }),
      ],
      want: "172.18.0.8",
    },
    {
      name: "dual stack: the IPv4 InternalIP",
      nodes: [dualStack("x-control-plane", "fc00:f853:ccd:e793::3", "172.18.0.3")],
      want: "172.18.0.3",
    },
    {
      name: "IPv6 only",
      nodes: [
        nodeObject({ name: "x-control-plane", internalIP: "fc00:f853:ccd:e793::3", controlPlane: true }),
      ],
      want: "fc00:f853:ccd:e793::3",
    },
    {
      name: "an existing cluster without control-plane nodes: the first Ready node by name",
      nodes: [
        nodeObject({ name: "ip-10-0-2-9.ec2.internal", internalIP: "10.0.2.9", externalIP: "54.1.1.1" }),
        nodeObject({ name: "ip-10-0-1-7.ec2.internal", internalIP: "10.0.1.7" }),
      ],
      want: "10.0.1.7",
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(nodeAddress("biz1", c.nodes), c.want));
  }

  it("says so when there is nothing to use", () => {
    assert.throws(() => nodeAddress("biz1", []), /cluster biz1 has no nodes/);
    const bare = nodeObject({ name: "n1", internalIP: "10.0.0.1" });
    bare.status = { ...bare.status, addresses: [{ type: "Hostname", address: "n1" }] };
    assert.throws(
      () => nodeAddress("biz1", [bare]),
      /no node of cluster biz1 reports an InternalIP address \(nodes: n1\)/,
    );
  });

  it("finds the new addresses after Docker restarted, still one per cluster", async () => {
    const world = new FakeWorld();
    for (const name of ["mgmt", "biz1", "biz2", "minio"])
      await world.exec.run("kind", ["create", "cluster", "--name", name]);
    const fleet = renderFleet(defaultTopology(), { ...fakeRenderOptions(defaultTopology()) });
    const discover = () =>
      discoverAddresses({
        clusters: fleet.clusters,
        serviceType: () => "NodePort",
        api: world.api,
        clock: fakeClock(),
        loadBalancerTimeoutMs: 1000,
      });
    const before = await discover();
    world.restartDocker();
    const after = await discover();
    assert.deepEqual(before, {
      nodeIP: { mgmt: "172.18.0.2", biz1: "172.18.0.3", biz2: "172.18.0.4", minio: "172.18.0.5" },
    });
    assert.deepEqual(after, {
      nodeIP: { mgmt: "172.18.0.5", biz1: "172.18.0.4", biz2: "172.18.0.3", minio: "172.18.0.2" },
    });
  });
});

describe("load-balancer addresses, from the Services once assigned", () => {
  const service = (ingress: { ip?: string; hostname?: string }[] | undefined): V1Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "thanos-query-frontend", namespace: "monitoring" },
    spec: {
      type: "LoadBalancer",
      ports: [{ name: "http", port: 10902, targetPort: 10902, nodePort: 30900, protocol: "TCP" }],
    },
    status: { loadBalancer: ingress ? { ingress } : {} },
  });

  it("ip, hostname, IPv6 and pending", () => {
    assert.deepEqual(loadBalancerAddresses(service([{ ip: "203.0.113.7" }])), {
      "30900": "203.0.113.7:10902",
    });
    assert.deepEqual(loadBalancerAddresses(service([{ hostname: "a1.elb.example.internal" }])), {
      "30900": "a1.elb.example.internal:10902",
    });
    assert.deepEqual(loadBalancerAddresses(service([{ ip: "2001:db8::7" }])), {
      "30900": "[2001:db8::7]:10902",
    });
    assert.equal(loadBalancerAddresses(service(undefined)), undefined);
  });

  it("waits for the load balancer with a deadline, polling the Service", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    const topology = await topologyOf("load-balancer.yaml");
    const fleet = renderFleet(topology, { ...fakeRenderOptions(topology) });
    for (const rc of fleet.clusters) {
      const api = world.fakeApi(rc.context);
      api.loadBalancerIngress = { ip: rc.cluster === "mgmt" ? "203.0.113.10" : "203.0.113.20" };
      api.readyAfterReads = 3;
      for (const o of rc.manifests.filter((x) => x.kind === "Namespace" || x.kind === "Service")) {
        await api.serverSideApply(o);
      }
    }
    const clock = fakeClock();
    const found = await discoverAddresses({
      clusters: fleet.clusters,
      serviceType: () => "LoadBalancer",
      api: world.api,
      clock,
      loadBalancerTimeoutMs: 60_000,
    });
    assert.ok(clock.slept > 0, "it waited");
    assert.equal(found.loadBalancer?.mgmt?.["30900"], "203.0.113.10:10902");
    assert.equal(found.loadBalancer?.us1?.["31001"], "203.0.113.20:10901");
    assert.deepEqual(found.nodeIP, { mgmt: "10.0.0.21", us1: "10.0.1.21" });
  });
});
