// Receive as the component specs declare it: routers and ingesters, the hashring, mutual TLS on remote write, the
// receive-mode Prometheus, query and compactor; checked against the pinned thanos's own flags.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { resolveBinary } from "../../binaries/resolve.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import type { FleetInput } from "../../topology/schema.ts";
import type { SpecContext } from "../context.ts";
import { buildFleet, exposedHttpPorts, openings, storeApiServers } from "../fleet.ts";
import { TEST_ADDRESSES, TEST_CREDENTIALS, testContext } from "../testdata/spec.ts";
import type { Container, PodSpec } from "../types.ts";
import { REMOTE_WRITE_QUEUE } from "./receive.ts";

const creds = TEST_CREDENTIALS;
const addresses = TEST_ADDRESSES;
const grpcTls = {
  ca: "CA-PEM",
  cert: "SERVER-PEM",
  key: "SERVER-KEY",
  clientCert: "CLIENT-PEM",
  clientKey: "CLIENT-KEY",
  serverName: "thanos-fleet-grpc",
};

/** The default fleet with biz2 on receive (and the observer's receive settings given). */
function receiveFleet(receive: Record<string, unknown> = {}): FleetInput {
  return {
    ...DEFAULT_FLEET,
    clusters: [
      { name: "mgmt", role: "observer", receive },
      { name: "biz1", role: "workload" },
      { name: "biz2", role: "workload", mode: "receive" },
      { name: "minio", role: "storage" },
    ],
  };
}

function build(input: FleetInput) {
  const topology = parseFleet(input, "test");
  const ctx: SpecContext = testContext(topology, { grpcTls });
  return { topology, fleet: buildFleet(topology, ctx, creds) };
}

function pod(pods: PodSpec[], cluster: string, name: string): PodSpec {
  const p = pods.find((x) => x.cluster === cluster && x.name === name);
  assert.ok(p, `no pod ${cluster}/${name}`);
  return p;
}

function only(p: PodSpec): Container {
  assert.equal(p.containers.length, 1, p.name);
  return p.containers[0] as Container;
}

function flags(c: Container, name: string): string[] {
  return c.args
    .filter((a) => a === `--${name}` || a.startsWith(`--${name}=`))
    .map((a) => a.split("=").slice(1).join("="));
}

describe("receive on the observer", () => {
  const { topology, fleet } = build(receiveFleet());
  const router = pod(fleet.pods, "mgmt", "thanos-receive-router");
  const ingester = pod(fleet.pods, "mgmt", "thanos-receive-ingester");

  test("2 stateless routers, 3 stateful ingesters that start before them", () => {
    assert.equal(router.replicas, 2);
    assert.equal(router.stateful, false);
    assert.equal(ingester.replicas, 3);
    assert.equal(ingester.stateful, true);
    assert.ok(ingester.stage < router.stage);
    assert.equal(only(ingester).persistent, true);
  });

  test("the routers hash onto a ketama hashring of every ingester and replicate 3 times", () => {
    const r = only(router);
    assert.deepEqual(flags(r, "receive.replication-factor"), ["3"]);
    assert.deepEqual(flags(r, "receive.hashrings-algorithm"), ["ketama"]);
    assert.deepEqual(flags(r, "receive.tenant-header"), ["THANOS-TENANT"]);
    // No local endpoint: a router stores nothing (Thanos's RouterOnly mode).
    assert.deepEqual(flags(r, "receive.local-endpoint"), []);
    const [path] = flags(r, "receive.hashrings-file");
    const file = r.files.find((f) => path?.endsWith(`/${f.name}`));
    assert.deepEqual(JSON.parse(file?.content ?? ""), [
      {
        hashring: "default",
        algorithm: "ketama",
        endpoints: [0, 1, 2].map((i) => `pod.thanos-receive-ingester-${i}.mgmt:10901`),
      },
    ]);
  });

  test("remote write is HTTPS with client certificates from the fleet CA; routers dial ingesters with mutual TLS", () => {
    const r = only(router);
    const dir = "/cfg/thanos-receive-router/thanos-receive-router";
    assert.deepEqual(flags(r, "remote-write.server-tls-cert"), [`${dir}/grpc-tls.crt`]);
    assert.deepEqual(flags(r, "remote-write.server-tls-client-ca"), [`${dir}/grpc-ca.crt`]);
    assert.deepEqual(flags(r, "remote-write.client-tls-secure"), [""]);
    assert.deepEqual(flags(r, "remote-write.client-server-name"), ["thanos-fleet-grpc"]);
    const i = only(ingester);
    assert.equal(flags(i, "grpc-server-tls-client-ca").length, 1);
    assert.equal(i.files.find((f) => f.name === "grpc-tls.key")?.secret, true);
    assert.equal(r.files.find((f) => f.name === "remote-write-client.key")?.secret, true);
  });

  test("the remote-write endpoint is one NodePort on the routers' Service, and an opening", () => {
    const svc = fleet.services.find((s) => s.name === "thanos-receive-router");
    assert.deepEqual(
      svc?.ports.find((p) => p.name === "remote-write"),
      { name: "remote-write", port: 19291, targetPort: 19291, nodePort: 30907 },
    );
    assert.ok(openings(topology, "local").some((o) => o.name === "receive" && o.nodePort === 30907));
    // The ingesters are dialled each by its own address: a headless Service, nothing exposed.
    const ing = fleet.services.find((s) => s.name === "thanos-receive-ingester");
    assert.equal(ing?.headless, true);
    assert.ok(ing?.ports.every((p) => p.nodePort === undefined));
  });

  test("each ingester labels what it stores receive_replica=<pod>, keeps a TSDB and uploads it", () => {
    const i = only(ingester);
    assert.deepEqual(flags(i, "label"), ['receive_replica="$(POD_NAME)"']);
    assert.deepEqual(flags(i, "tsdb.path"), ["/data/thanos-receive-ingester/thanos-receive-ingester"]);
    assert.equal(flags(i, "objstore.config-file").length, 1);
    // Size-bounded, not time-bounded: a time retention makes v0.42.4's ingester panic at start (see receive.ts).
    assert.deepEqual(flags(i, "tsdb.retention"), ["0d"]);
    assert.deepEqual(flags(i, "tsdb.max-retention-bytes"), ["8GB"]);
    assert.deepEqual(ingester.storeLabels?.("thanos-receive-ingester-1"), {
      receive_replica: "thanos-receive-ingester-1",
    });
  });

  test("query dials every ingester and deduplicates on receive_replica too", () => {
    const ingesters = storeApiServers(topology).filter((s) => s.type === "receive");
    assert.deepEqual(
      ingesters.map((s) => s.address(addresses)),
      [0, 1, 2].map((i) => `pod.thanos-receive-ingester-${i}.mgmt:10901`),
    );
    const q = only(pod(fleet.pods, "mgmt", "thanos-query"));
    assert.deepEqual(flags(q, "query.replica-label"), [
      "prometheus_replica",
      "ruler_replica",
      "receive_replica",
    ]);
    const endpoints = parse(q.files.find((f) => f.name === "endpoints.yaml")?.content ?? "") as {
      endpoints: { address: string }[];
    };
    for (const s of ingesters) assert.ok(endpoints.endpoints.some((e) => e.address === s.address(addresses)));
  });

  test("the compactor merges the ingesters' copies of a block on receive_replica, beside the HA pairs' merge", () => {
    const c = only(pod(fleet.pods, "mgmt", "thanos-compact"));
    assert.deepEqual(flags(c, "deduplication.replica-label"), ["prometheus_replica", "receive_replica"]);
    assert.deepEqual(flags(c, "deduplication.func"), ["penalty"]);
  });
});

describe("a receive-mode cluster", () => {
  const { fleet } = build(receiveFleet());
  const prom = pod(fleet.pods, "biz2", "prometheus-kube-prometheus-stack-prometheus");

  test("runs Prometheus without a sidecar, and no sidecar Service", () => {
    assert.deepEqual(
      prom.containers.map((c) => c.name),
      ["prometheus"],
    );
    assert.ok(!fleet.services.some((s) => s.cluster === "biz2" && s.name.startsWith("thanos-sidecar")));
    // biz1 keeps its sidecars.
    const biz1 = pod(fleet.pods, "biz1", "prometheus-kube-prometheus-stack-prometheus");
    assert.deepEqual(
      biz1.containers.map((c) => c.name),
      ["prometheus", "thanos-sidecar"],
    );
  });

  test("remote-writes to the routers' NodePort over HTTPS, as tenant biz2, with its client certificate", () => {
    const c = prom.containers[0] as Container;
    const config = parse(c.files.find((f) => f.name === "prometheus.yml")?.content ?? "") as {
      global: { external_labels: Record<string, string> };
      remote_write: Record<string, unknown>[];
      scrape_configs: { job_name: string }[];
    };
    const dir = "/cfg/prometheus-kube-prometheus-stack-prometheus/prometheus";
    assert.equal(config.remote_write.length, 1);
    const rw = config.remote_write[0] as Record<string, unknown>;
    assert.equal(rw.url, "https://node.mgmt:30907/api/v1/receive");
    assert.deepEqual(rw.headers, { "THANOS-TENANT": "biz2" });
    assert.deepEqual(rw.tls_config, {
      ca_file: `${dir}/grpc-ca.crt`,
      cert_file: `${dir}/remote-write-client.crt`,
      key_file: `${dir}/remote-write-client.key`,
      server_name: "thanos-fleet-grpc",
    });
    assert.deepEqual(rw.queue_config, REMOTE_WRITE_QUEUE);
    assert.deepEqual(config.global.external_labels, { cluster: "biz2", prometheus_replica: "$(POD_NAME)" });
    assert.ok(!config.scrape_configs.some((j) => j.job_name === "thanos-sidecar"));
    assert.deepEqual(
      c.files.map((f) => f.name),
      ["prometheus.yml", "grpc-ca.crt", "remote-write-client.crt", "remote-write-client.key"],
    );
  });
});

test("a fleet of sidecars only has no receive, and query and compactor are as before", () => {
  const { topology, fleet } = build(DEFAULT_FLEET);
  assert.ok(!fleet.pods.some((p) => p.name.startsWith("thanos-receive")));
  assert.ok(!storeApiServers(topology).some((s) => s.type === "receive"));
  const q = only(pod(fleet.pods, "mgmt", "thanos-query"));
  assert.deepEqual(flags(q, "query.replica-label"), ["prometheus_replica", "ruler_replica"]);
  const c = only(pod(fleet.pods, "mgmt", "thanos-compact"));
  assert.deepEqual(flags(c, "deduplication.replica-label"), ["prometheus_replica"]);
  assert.ok(!openings(topology, "kubernetes").some((o) => o.name === "receive"));
});

test("the replication factor and counts come from fleet.yaml", () => {
  const { fleet } = build(receiveFleet({ replicationFactor: 5, ingesters: 6, routers: 3 }));
  const router = pod(fleet.pods, "mgmt", "thanos-receive-router");
  assert.equal(router.replicas, 3);
  assert.equal(pod(fleet.pods, "mgmt", "thanos-receive-ingester").replicas, 6);
  assert.deepEqual(flags(only(router), "receive.replication-factor"), ["5"]);
});

test("the pinned thanos parses every flag and value receive's specs give it (an unknown one makes it exit)", async () => {
  const thanos = await resolveBinary("thanos");
  const { fleet } = build(receiveFleet());
  const containers = fleet.pods.flatMap((p) => p.containers);
  const receivers = containers.filter((c) => c.args[0] === "receive");
  assert.equal(receivers.length, 2);
  // kingpin parses every flag, hidden ones (the block durations) and enums (the hashring algorithm) included, before
  // it prints help: an unknown flag or value is an error and exit code 1 instead.
  for (const c of [...receivers, ...containers.filter((x) => x.args[0] === "compact")]) {
    const run = await promisify(execFile)(thanos, [...c.args, "--help"]).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? -1,
        out: `${e.stdout ?? ""}${e.stderr ?? ""}`,
      }),
    );
    assert.doesNotMatch(run.out, /thanos: error:/, `${c.name}: ${/thanos: error:.*/.exec(run.out)?.[0]}`);
    assert.equal(run.code, 0, c.name);
  }
  const compact = containers.find((c) => c.args[0] === "compact");
  assert.ok(compact?.args.includes("--deduplication.replica-label=receive_replica"));
});

test("a flag thanos does not know fails the flag check above", async () => {
  const thanos = await resolveBinary("thanos");
  await assert.rejects(
    promisify(execFile)(thanos, ["receive", "--receive.no-such-flag=1", "--help"]),
    (e: { stderr?: string }) => /unknown long flag '--receive\.no-such-flag'/.test(e.stderr ?? ""),
  );
});

test("the remote-write NodePort is among the exposed HTTP ports, asked with an empty write over the gRPC TLS", () => {
  const { topology, fleet } = build(receiveFleet());
  const writes = exposedHttpPorts(fleet).filter((e) => e.component === "receive-router");
  assert.deepEqual(
    writes.map((e) => ({ service: e.service, port: e.port, nodePort: e.nodePort, tls: e.tls })),
    [
      {
        service: "thanos-receive-router",
        port: "remote-write",
        nodePort: topology.observer.receive.nodePort,
        tls: true,
      },
    ],
  );
  const request = writes[0]?.request;
  assert.equal(request?.method, "POST");
  assert.equal(request?.path, "/api/v1/receive");
  assert.equal(request?.serverName, "thanos-fleet-grpc");
  assert.equal(request?.headers["content-encoding"], "snappy");
  assert.ok(request?.headers["THANOS-TENANT"]);
  // A WriteRequest with no series, snappy-compressed: its length (0) as a varint, nothing after.
  assert.deepEqual([...Buffer.from(request?.body ?? "")], [0]);
});
