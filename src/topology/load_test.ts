import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "./errors.ts";
import { DEFAULT_FLEET, firstInvalidUtf8, loadTopology, parseFleet, parseFleetYaml } from "./load.ts";

/** A valid fleet with one line changed is what users write; each case below is the default fleet plus one mistake. */
const MINIO = "  - name: minio\n    role: storage\n";
const MGMT = "  - name: mgmt\n    role: observer\n";
const BIZ1 = "  - name: biz1\n    role: workload\n";

interface Case {
  name: string;
  yaml: string;
  /** Every problem expected, in order: field (exact), line (when the field stands in the file), message and fix substrings. */
  problems: { field: string; line?: number; message: RegExp; fix: RegExp }[];
}

const cases: Case[] = [
  {
    name: "unknown keys, top level and in a cluster",
    yaml: `clusters:\n${MGMT}    replicas: 3\n${BIZ1}${MINIO}buckett: x\n`,
    problems: [
      {
        field: "clusters[0].replicas",
        line: 4,
        message: /not a known key/,
        fix: /remove it or check its spelling/,
      },
      { field: "buckett", line: 9, message: /not a known key/, fix: /remove it or check its spelling/ },
    ],
  },
  {
    name: "YAML syntax error",
    yaml: `clusters:\n${MGMT}  - name: [biz1\n    role: workload\n`,
    problems: [{ field: "", line: 5, message: /not valid YAML/, fix: /fix the YAML syntax/ }],
  },
  {
    name: "a key given twice",
    yaml: `bucket: a-bucket\nbucket: b-bucket\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [{ field: "", line: 2, message: /not valid YAML.*unique/i, fix: /fix the YAML syntax/ }],
  },
  {
    name: "duplicate cluster names",
    yaml: `clusters:\n${MGMT}${BIZ1}  - name: biz1\n    role: workload\n    externalLabels: {cluster: other}\n${MINIO}`,
    problems: [
      {
        field: "clusters[2].name",
        line: 6,
        message: /'biz1' is already used by clusters\[1\]/,
        fix: /unique name/,
      },
    ],
  },
  {
    name: "duplicate external label sets",
    yaml: `clusters:\n${MGMT}${BIZ1}    externalLabels: {cluster: same}\n  - name: biz2\n    role: workload\n    externalLabels: {cluster: same}\n${MINIO}`,
    problems: [
      {
        field: "clusters[2].externalLabels",
        line: 9,
        message: /same external labels \{cluster="same"\} as clusters\[1\].*compactor would halt/,
        fix: /distinct cluster label/,
      },
    ],
  },
  {
    name: "a replica label set by hand",
    yaml: `clusters:\n${MGMT}${BIZ1}    externalLabels: {prometheus_replica: a}\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].externalLabels.prometheus_replica",
        line: 6,
        message: /set by thanos-fleet for deduplication/,
        fix: /remove prometheus_replica/,
      },
    ],
  },
  {
    name: "two observers",
    yaml: `clusters:\n${MGMT}  - name: mgmt2\n    role: observer\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters",
        line: 2,
        message: /exactly one cluster with role observer, found 2/,
        fix: /keep one observer/,
      },
    ],
  },
  {
    name: "no observer",
    yaml: `clusters:\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters",
        line: 2,
        message: /exactly one cluster with role observer, found 0/,
        fix: /add a cluster with role: observer/,
      },
    ],
  },
  {
    name: "no workload cluster",
    yaml: `clusters:\n${MGMT}${MINIO}`,
    problems: [
      {
        field: "clusters",
        line: 2,
        message: /no workload cluster/,
        fix: /add a cluster with role: workload/,
      },
    ],
  },
  {
    name: "a NodePort outside 30000-32767",
    yaml: `clusters:\n${MGMT}    nodePorts:\n      query: 8080\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters[0].nodePorts.query",
        line: 5,
        message: /NodePort in 30000-32767/,
        fix: /fit the range/,
      },
    ],
  },
  {
    name: "a replica range running past 32767",
    yaml: `clusters:\n${MGMT}${BIZ1}    prometheus: {replicas: 3}\n    nodePorts: {sidecarGrpc: 32766}\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].nodePorts.sidecarGrpc",
        line: 7,
        message: /sidecarGrpc\+2 reaches 32768/,
        fix: /lower the base port or the replica count/,
      },
    ],
  },
  {
    name: "a NodePort used twice in a cluster",
    yaml: `clusters:\n${MGMT}    nodePorts:\n      query: 30900\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters[0].nodePorts.query",
        line: 5,
        message: /NodePort 30900, already used by queryFrontend in cluster mgmt/,
        fix: /free port/,
      },
    ],
  },
  {
    name: "replica ranges that collide",
    yaml: `clusters:\n${MGMT}${BIZ1}    prometheus:\n      replicas: 3\n    nodePorts:\n      sidecarGrpc: 31000\n      sidecarHttp: 31002\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].nodePorts.sidecarHttp",
        line: 10,
        message: /NodePort 31002, already used by sidecarGrpc\+2 in cluster biz1/,
        fix: /free port/,
      },
    ],
  },
  {
    name: "a name that is not a DNS-1123 label",
    yaml: `clusters:\n  - name: Mgmt_1\n    role: observer\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters[0].name",
        line: 2,
        message: /"Mgmt_1" must be a DNS-1123 label/,
        fix: /use a value such as biz-eu1/,
      },
    ],
  },
  {
    name: "unknown version formats",
    yaml: `versions:\n  thanos: 0.42.4\n  kubePrometheusStack: v88.5.3\n  kindNodeImage: kindest/node:latest\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "versions.thanos",
        line: 2,
        message: /"0\.42\.4" must be a Thanos release tag such as v1\.2\.3/,
        fix: /use a value such as v0\.42\.4/,
      },
      {
        field: "versions.kubePrometheusStack",
        line: 3,
        message: /"v88\.5\.3" must be a Helm chart version such as 88\.5\.3 \(no leading v\)/,
        fix: /use a value such as 88\.5\.3/,
      },
      {
        field: "versions.kindNodeImage",
        line: 4,
        message: /"kindest\/node:latest" must be a kindest\/node image such as/,
        fix: /use a value such as kindest\/node:v1\.36/,
      },
    ],
  },
  {
    name: "an unknown role",
    yaml: `clusters:\n  - name: mgmt\n    role: observr\n${BIZ1}${MINIO}`,
    problems: [
      {
        field: "clusters[0].role",
        line: 3,
        message: /one of observer, workload or storage/,
        fix: /set role to/,
      },
    ],
  },
  {
    name: "kube-prometheus-stack values that set what the fleet depends on",
    yaml: `kubePrometheusStackValues:\n  fullnameOverride: kps\n  prometheus:\n    prometheusSpec:\n      externalLabels: {region: eu}\n      thanos: {objectStorageConfig: {existingSecret: {name: x, key: y}}}\nclusters:\n${MGMT}${BIZ1}    kubePrometheusStackValues:\n      grafana: {enabled: false}\n      prometheus: {thanosService: {enabled: false}}\n${MINIO}`,
    problems: [
      {
        field: "kubePrometheusStackValues.fullnameOverride",
        line: 2,
        message: /is set by thanos-fleet/,
        fix: /^remove it$/,
      },
      {
        field: "kubePrometheusStackValues.prometheus.prometheusSpec.externalLabels",
        line: 5,
        message: /is set by thanos-fleet \(query and the compactor rely on them\)/,
        fix: /set clusters\[i\]\.externalLabels in fleet\.yaml instead/,
      },
      {
        field: "kubePrometheusStackValues.prometheus.prometheusSpec.thanos",
        line: 6,
        message: /sidecar/,
        fix: /versions\.thanos, objectStore, tls\.grpc or blocks\.duration/,
      },
      {
        field: "clusters[1].kubePrometheusStackValues.prometheus.thanosService",
        line: 14,
        message: /is set by thanos-fleet/,
        fix: /set clusters\[1\]\.nodePorts\.sidecarGrpc in fleet\.yaml instead/,
      },
      {
        field: "clusters[1].kubePrometheusStackValues.grafana.enabled",
        line: 13,
        message: /is set by thanos-fleet/,
        fix: /set grafana in fleet\.yaml instead/,
      },
    ],
  },
  {
    name: "kube-prometheus-stack values that would replace or remove a subtree the fleet sets",
    yaml: `kubePrometheusStackValues:\n  prometheus: null\n  grafana: [a]\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "kubePrometheusStackValues.prometheus",
        line: 2,
        message: /must be a mapping: it holds prometheusSpec\.externalLabels/,
        fix: /mapping with only the keys you change/,
      },
      {
        field: "kubePrometheusStackValues.grafana",
        line: 3,
        message: /must be a mapping/,
        fix: /mapping/,
      },
    ],
  },
  {
    name: "kube-prometheus-stack values that are not a mapping, a registry mirror without a trailing slash, a chart without a path",
    yaml: `kubePrometheusStackValues: [x]\nimages:\n  registry: mirror.example.com\nchart: {}\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      { field: "chart.path", line: 4, message: /is required/, fix: /add path/ },
      {
        field: "images.registry",
        line: 3,
        message: /"mirror\.example\.com" must be a registry host .* ending in '\/'/,
        fix: /mirror\.example\.com\//,
      },
      { field: "kubePrometheusStackValues", line: 1, message: /expected record/, fix: /correct the value/ },
    ],
  },
  {
    name: "durations a process ticks or waits on set to 0s (a store gateway panics on a 0s sync interval)",
    yaml: `blocks:\n  syncInterval: 0s\n  duration: 0m\nclusters:\n${MGMT}${BIZ1}    prometheus: {scrapeInterval: 0s, retention: 0d}\n${MINIO}`,
    problems: [
      {
        field: "blocks.duration",
        line: 3,
        message: /"0m" must be longer than 0s/,
        fix: /use a value such as 2h/,
      },
      {
        field: "blocks.syncInterval",
        line: 2,
        message: /"0s" must be longer than 0s/,
        fix: /use a value such as 3m/,
      },
      {
        field: "clusters[1].prometheus.retention",
        line: 9,
        message: /"0d" must be longer than 0s/,
        fix: /5d/,
      },
      {
        field: "clusters[1].prometheus.scrapeInterval",
        line: 9,
        message: /"0s" must be longer than 0s/,
        fix: /use a value such as 15s/,
      },
    ],
  },
  {
    name: "durations Prometheus and Go refuse: units out of order or repeated, longer than 292y",
    yaml: `blocks:\n  syncInterval: 30s1m\n  duration: 1h1h\nretention:\n  oneHour: 300y\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      { field: "retention.oneHour", line: 5, message: /"300y" must be at most 292y/, fix: /1y/ },
      { field: "blocks.duration", line: 3, message: /"1h1h" must be a Prometheus duration/, fix: /2h/ },
      { field: "blocks.syncInterval", line: 2, message: /"30s1m" must be a Prometheus duration/, fix: /3m/ },
    ],
  },
  {
    name: "bucket retention too short for the compactor to downsample (it refuses to start)",
    yaml: `retention:\n  raw: 1d\n  fiveMinutes: 9d\n  oneHour: 0d\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "retention.raw",
        line: 2,
        message: /1d is shorter than 40h.*refuses to start/,
        fix: /40h or more, or 0d to keep it for ever/,
      },
      { field: "retention.fiveMinutes", line: 3, message: /9d is shorter than 10d/, fix: /10d or more/ },
    ],
  },
  {
    name: "external labels that end up in the fleet's alert templates or override its own labels",
    yaml: `clusters:\n${MGMT}${BIZ1}    externalLabels:\n      region: "{{ broken"\n      severity: none\n      job: x\n      __tenant: y\n      cluster: "a{{.}}"\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].externalLabels.region",
        line: 7,
        message: /"\{\{ broken" holds "\{\{": .*Go templates/,
        fix: /remove "\{\{" from the value/,
      },
      {
        field: "clusters[1].externalLabels.severity",
        line: 8,
        message: /is a label of the fleet's own \(the fleet's alerts carry their own severity/,
        fix: /rename it/,
      },
      {
        field: "clusters[1].externalLabels.job",
        line: 9,
        message: /label of the fleet's own/,
        fix: /rename it/,
      },
      { field: "clusters[1].externalLabels.__tenant", line: 10, message: /reserved/, fix: /rename it/ },
      {
        field: "clusters[1].externalLabels.cluster",
        line: 11,
        message: /"a\{\{\.\}\}" holds "\{\{"/,
        fix: /remove/,
      },
    ],
  },
  {
    name: "binaries the local runtime does not run",
    yaml: `binaries:\n  thanos: /opt/thanos\n  unknownbin: /bin/true\n  minio: /opt/minio\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "binaries.unknownbin",
        line: 3,
        message: /is not a program the local runtime runs/,
        fix: /binaries names thanos, prometheus, alertmanager, weed, haproxy/,
      },
      { field: "binaries.minio", line: 4, message: /never runs MinIO/, fix: /server: seaweedfs/ },
    ],
  },
  {
    name: "a MinIO release later than the last one published as an image",
    yaml: `versions:\n  minio: RELEASE.2025-10-15T17-29-55Z\nclusters:\n${MGMT}${BIZ1}  - name: minio\n    role: storage\n    server: minio\n`,
    problems: [
      {
        field: "versions.minio",
        line: 2,
        message: /later than RELEASE\.2025-09-07T16-13-09Z, the last MinIO release published as an image/,
        fix: /use a value such as RELEASE\.2025-09-07T16-13-09Z/,
      },
    ],
  },
  {
    name: "receive: more copies than ingesters, an even replication factor, and its NodePort taken",
    yaml: `clusters:\n${MGMT}    receive:\n      replicationFactor: 4\n      ingesters: 3\n      nodePort: 30904\n${BIZ1}    mode: receive\n${MINIO}`,
    problems: [
      {
        field: "clusters[0].receive.replicationFactor",
        line: 5,
        message: /4 copies of each series need 4 ingesters, but receive.ingesters is 3/,
        fix: /set receive.ingesters to 4 or more/,
      },
      {
        field: "clusters[0].receive.replicationFactor",
        line: 5,
        message: /4 is even: a write needs 3 of 4 copies, so it survives 1 lost ingester/,
        fix: /set it to 5 \(or 3\)/,
      },
      {
        field: "clusters[0].receive.nodePort",
        line: 7,
        message: /NodePort 30904, already used by query in cluster mgmt/,
        fix: /choose a free port/,
      },
    ],
  },
  {
    name: "tls: a cert-manager Issuer beside the user's own CA, an Issuer of an unknown kind or without its CA",
    yaml: `tls:\n  ca: {cert: ca.pem, key: ca-key.pem}\n  issuer: {name: fleet-ca, ca: issuer-ca.pem}\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "tls.issuer",
        line: 3,
        message: /is set together with tls.ca: the servers' certificates come from one of them/,
        fix: /remove tls.ca .* or remove tls.issuer/,
      },
    ],
  },
  {
    name: "tls.issuer: an unknown kind, no CA",
    yaml: `tls:\n  issuer:\n    name: fleet-ca\n    kind: Issuers\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      { field: "tls.issuer.kind", line: 4, message: /ClusterIssuer|Issuer/, fix: /./ },
      { field: "tls.issuer.ca", message: /./, fix: /./ },
    ],
  },
  {
    name: "receive: a remote-write endpoint that would leave its cluster without mutual TLS",
    yaml: `tls:\n  grpc: false\nclusters:\n${MGMT}${BIZ1}    mode: receive\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].mode",
        line: 8,
        message: /is receive while tls.grpc is false: the remote-write endpoint leaves the cluster/,
        fix: /remove tls.grpc: false, or set this cluster's mode to sidecar/,
      },
    ],
  },
  {
    name: "receive: fewer routers or ingesters than survive one loss, an unknown mode, its labels set by hand",
    yaml: `clusters:\n${MGMT}    receive: {routers: 1, ingesters: 2}\n${BIZ1}    mode: push\n  - name: biz2\n    role: workload\n    mode: receive\n    externalLabels: {tenant_id: x, receive_replica: y}\n${MINIO}`,
    problems: [
      { field: "clusters[0].receive.routers", line: 4, message: /at least 2/, fix: /./ },
      { field: "clusters[0].receive.ingesters", line: 4, message: /at least 3/, fix: /./ },
      { field: "clusters[1].mode", line: 7, message: /must be sidecar or receive/, fix: /./ },
    ],
  },
  {
    name: "receive: the tenant and receive replica labels are the fleet's",
    yaml: `clusters:\n${MGMT}${BIZ1}    mode: receive\n    externalLabels: {tenant_id: x, receive_replica: y}\n${MINIO}`,
    problems: [
      {
        field: "clusters[1].externalLabels.tenant_id",
        line: 7,
        message: /set by Thanos Receive to the cluster's tenant/,
        fix: /remove tenant_id from externalLabels/,
      },
      {
        field: "clusters[1].externalLabels.receive_replica",
        line: 7,
        message: /set by thanos-fleet for deduplication/,
        fix: /remove receive_replica/,
      },
    ],
  },
  {
    name: "an empty file",
    yaml: "",
    problems: [{ field: "", line: 1, message: /is empty/, fix: /thanos-fleet init/ }],
  },
  {
    name: "a file of comments only",
    yaml: "# nothing yet\n\n",
    problems: [{ field: "", line: 1, message: /is empty/, fix: /thanos-fleet init/ }],
  },
  {
    name: "a billion laughs: aliases of aliases expanding without end",
    yaml: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nclusters:\n${MGMT}${BIZ1}${MINIO}`,
    problems: [
      {
        field: "",
        line: 3,
        message: /expands its aliases .* more than 100 copies/,
        fix: /write the values out/,
      },
    ],
  },
];

function problemsOf(yaml: string): ConfigError {
  try {
    parseFleetYaml(yaml, "bad.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("the config was accepted");
}

describe("fleet.yaml validation", () => {
  for (const c of cases) {
    test(`rejects ${c.name}, naming file, field and fix`, () => {
      const error = problemsOf(c.yaml);
      assert.equal(error.exitCode, 2);
      assert.equal(error.problems.length, c.problems.length, error.message);
      c.problems.forEach((want, i) => {
        const got = error.problems[i];
        assert.ok(got);
        assert.equal(got.field, want.field, error.message);
        if (want.line !== undefined)
          assert.equal(got.line, want.line, `line of ${want.field}: ${error.message}`);
        assert.match(got.message, want.message);
        assert.match(got.fix, want.fix);
      });
      // The printed message: one line per problem, `file:line: field: message; fix`.
      const lines = error.message.split("\n");
      assert.equal(lines.length, c.problems.length);
      lines.forEach((line, i) => {
        const p = error.problems[i];
        assert.ok(p);
        assert.ok(line.startsWith(`bad.yaml${p.line ? `:${p.line}` : ""}:`), line);
        if (p.field) assert.ok(line.includes(` ${p.field}: `), line);
        assert.ok(line.endsWith(`; ${p.fix}`), line);
      });
    });
  }

  test("a missing file names the fix", async () => {
    await assert.rejects(loadTopology("/nonexistent/fleet.yaml"), (e: ConfigError) => {
      assert.match(
        e.message,
        /^\/nonexistent\/fleet\.yaml: cannot be read \(ENOENT\); create it with 'thanos-fleet init'/,
      );
      return true;
    });
  });

  test("the default fleet is valid and has the guide's four clusters", () => {
    const t = parseFleet(DEFAULT_FLEET, "default");
    assert.deepEqual(
      t.fleet.clusters.map((c) => `${c.name}:${c.role}`),
      ["mgmt:observer", "biz1:workload", "biz2:workload", "minio:storage"],
    );
    assert.deepEqual(
      t.workloads.map((w) => [w.labels, w.replicaNames.length]),
      [
        [{ cluster: "biz1" }, 2],
        [{ cluster: "biz2" }, 2],
      ],
    );
  });
});

describe("bad config on the command line", () => {
  test("render -c bad.yaml exits 2 with the message, no stack trace, and creates nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-bad-"));
    try {
      const bad = join(dir, "bad.yaml");
      await writeFile(bad, `clusters:\n${MGMT}    nodePorts:\n      query: 8080\n${BIZ1}${MINIO}`);
      const out = join(dir, "out");
      const state = join(dir, "state");
      const cli = join(import.meta.dirname, "..", "cli.ts");
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", cli, "render", "-c", bad, "--out", out, "--state-dir", state],
        {
          encoding: "utf8",
          env: { ...process.env, THANOS_FLEET_DEBUG: "" },
        },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.equal(
        r.stderr.trim(),
        `${bad}:5: clusters[0].nodePorts.query: 8080 must be a NodePort in 30000-32767; change the value to fit the range`,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, "stack trace printed");
      assert.equal(r.stdout, "");
      assert.equal(existsSync(out), false, "--out was created");
      assert.equal(existsSync(state), false, "the state dir was created");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("input a careless or hostile user gives", () => {
  test("a 100 KB value or key is named by its start and length, not echoed whole", () => {
    const big = "a".repeat(100_000);
    const error = problemsOf(`bucket: ${big}\nclusters:\n${MGMT}${BIZ1}${MINIO}? ${big}\n: 1\n`);
    assert.equal(error.problems.length, 2, error.message);
    assert.ok(error.message.length < 800, `message of ${error.message.length} characters`);
    assert.match(
      error.message,
      /bad\.yaml:1: bucket: "a{10,}… \(100000 characters\) must be an S3 bucket name/,
    );
    assert.match(error.message, /bad\.yaml:10: \["a{10,}… \(100000 characters\)\]: is not a known key/);
  });

  test("a huge external label value is clipped in the duplicate-label-set message", () => {
    const big = "v".repeat(50_000);
    const error = problemsOf(
      `clusters:\n${MGMT}${BIZ1}    externalLabels: {cluster: ${big}}\n  - name: biz2\n    role: workload\n    externalLabels: {cluster: ${big}}\n${MINIO}`,
    );
    assert.ok(error.message.length < 800, `message of ${error.message.length} characters`);
    assert.match(error.message, /same external labels .*characters\)\}/);
  });

  test("bytes that are not UTF-8 are refused with their line and offset, not replaced", async () => {
    const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-utf8-"));
    try {
      const file = join(dir, "fleet.yaml");
      const good = Buffer.from(`clusters:\n${MGMT}`);
      await writeFile(
        file,
        Buffer.concat([
          good,
          Buffer.from("  - name: biz1\n    role: workload\n    externalLabels: {team: caf"),
          Buffer.from([0xe9]),
          Buffer.from("}\n"),
        ]),
      );
      await assert.rejects(loadTopology(file), (e: ConfigError) => {
        assert.equal(e.exitCode, 2);
        const offset =
          good.length + "  - name: biz1\n    role: workload\n    externalLabels: {team: caf".length;
        assert.equal(
          e.message,
          `${file}:6: is not UTF-8: byte ${offset} (0xe9) starts no UTF-8 character; save the file as UTF-8`,
        );
        return true;
      });
      // A UTF-16 file (what some editors save) is refused at its first byte.
      await writeFile(file, Buffer.from(`\ufeffclusters: []\n`, "utf16le"));
      await assert.rejects(loadTopology(file), /:1: is not UTF-8: byte 0 \(0xff\)/);
      // Well-formed UTF-8, a BOM and characters of every length included, is read as written.
      await writeFile(
        file,
        `\ufeffclusters:\n${MGMT}${BIZ1}    externalLabels: {team: "café ✓ 𝄞"}\n${MINIO}`,
      );
      const t = await loadTopology(file);
      assert.equal(t.workloads[0]?.labels.team, "café ✓ 𝄞");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("firstInvalidUtf8 finds overlong, surrogate, truncated and stray bytes", () => {
    const at = (...bytes: number[]) => firstInvalidUtf8(Uint8Array.from(bytes));
    assert.equal(at(0x61, 0x62), 2);
    assert.equal(at(0x61, 0xc0, 0x80), 1, "overlong");
    assert.equal(at(0xed, 0xa0, 0x80), 0, "surrogate");
    assert.equal(at(0x61, 0xe2, 0x82), 1, "truncated");
    assert.equal(at(0x80), 0, "stray continuation byte");
    assert.equal(at(0xf0, 0x9d, 0x84, 0x9e, 0xff), 4);
  });

  test("-c on a directory, a device or a huge file says what it is, and reads no more than the limit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-notfile-"));
    try {
      await assert.rejects(loadTopology(dir), (e: ConfigError) => {
        assert.equal(e.exitCode, 2);
        assert.equal(
          e.message,
          `${dir}: is a directory, not a fleet.yaml; pass the file itself, e.g. -c ${join(dir, "fleet.yaml")}`,
        );
        return true;
      });
      await assert.rejects(
        loadTopology("/dev/zero"),
        /\/dev\/zero: is larger than 4194304 bytes, far more than a fleet\.yaml holds; check that -c names your fleet\.yaml$/,
      );
      await writeFile(join(dir, "file"), "x");
      await assert.rejects(
        loadTopology(join(dir, "file", "fleet.yaml")),
        /cannot be read \(ENOTDIR\); a part of its path is a file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
