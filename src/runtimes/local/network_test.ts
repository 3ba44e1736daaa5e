import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { shapeAddresses } from "../../components/context.ts";
import { buildFleet } from "../../components/fleet.ts";
import { podNames } from "../../components/types.ts";
import type { Credentials } from "../../state/credentials.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { parseSubnet, planNetwork } from "./network.ts";
import { localContext } from "./processes.ts";

const creds: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};
const options = { subnet: "127.77", blockDuration: "2m", bucketSyncInterval: "15s" };

function network(input: unknown = DEFAULT_FLEET, subnet = "127.77") {
  const topology = parseFleet(input, "test");
  const shape = buildFleet(topology, localContext(topology, creds, options, shapeAddresses), creds);
  return { topology, shape, net: planNetwork(topology, shape, subnet) };
}

describe("parseSubnet", () => {
  for (const [input, expected] of [
    ["127.77", "127.77"],
    [" 127.0 ", "127.0"],
    ["127.255", "127.255"],
  ] as const) {
    test(`accepts ${JSON.stringify(input)}`, () => assert.equal(parseSubnet(input), expected));
  }
  for (const input of ["10.77", "127.256", "127.77.1", "127", "", "127.x"]) {
    test(`rejects ${JSON.stringify(input)}, naming the value and the variable`, () => {
      assert.throws(
        () => parseSubnet(input),
        (e: Error) => {
          assert.match(e.message, /THANOS_FLEET_LOCAL_SUBNET/);
          assert.ok(e.message.includes(JSON.stringify(input)));
          return true;
        },
      );
    });
  }
});

describe("planNetwork", () => {
  test("clusters get their own /24 in fleet.yaml order, NodePorts on .1", () => {
    const { net } = network();
    assert.deepEqual(
      [...net.clusters.values()].map((c) => [c.name, c.node]),
      [
        ["mgmt", "127.77.0.1"],
        ["biz1", "127.77.1.1"],
        ["biz2", "127.77.2.1"],
        ["minio", "127.77.3.1"],
      ],
    );
  });

  test("every pod and Service has its own address inside its cluster's block", () => {
    const { shape, net } = network();
    const seen = new Set<string>();
    for (const pod of shape.pods) {
      const prefix = `${net.nodeIp(pod.cluster).replace(/\.1$/, ".")}`;
      for (const name of podNames(pod)) {
        const ip = net.podIp(pod.cluster, name);
        assert.ok(ip.startsWith(prefix), `${pod.cluster}/${name} at ${ip}`);
        const host = Number(ip.split(".")[3]);
        assert.ok(host >= 10 && host < 200, `${name} host part ${host}`);
        assert.ok(!seen.has(ip), `${ip} given twice`);
        seen.add(ip);
      }
    }
    for (const svc of shape.services.filter((s) => !s.headless)) {
      const ip = net.serviceIp(svc.cluster, svc.name);
      assert.ok(Number(ip.split(".")[3]) >= 200, `${svc.name} at ${ip}`);
      assert.ok(!seen.has(ip), `${ip} given twice`);
      seen.add(ip);
    }
  });

  test("the same pod name in two clusters gets two addresses", () => {
    const { net } = network();
    const pod = "prometheus-kube-prometheus-stack-prometheus-0";
    assert.notEqual(net.podIp("biz1", pod), net.podIp("biz2", pod));
  });

  test("addresses: service, pod and exposed, as the component specs ask for them", () => {
    const { net } = network(DEFAULT_FLEET, "127.78");
    assert.equal(net.addresses.exposed("biz1", 31000), "127.78.1.1:31000");
    assert.match(net.addresses.service("mgmt", "thanos-store", 10901), /^127\.78\.0\.2[0-9][0-9]:10901$/);
    assert.match(net.addresses.pod("mgmt", "thanos-ruler", 1, 10901), /^127\.78\.0\.[0-9]+:10901$/);
  });

  test("unknown names are errors that name them", () => {
    const { net } = network();
    assert.throws(() => net.podIp("biz1", "nope-0"), /no pod nope-0 in cluster biz1/);
    assert.throws(() => net.serviceIp("mgmt", "nope"), /no Service nope in cluster mgmt/);
    assert.throws(() => net.serviceIp("mgmt", "thanos-ruler"), /headless/);
    assert.throws(() => net.nodeIp("nowhere"), /cluster nowhere/);
  });
});
