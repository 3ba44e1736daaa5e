import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { FakeWorld } from "../../../testing/kube/fake-world.ts";
import { tempDir } from "../../../testing/tempdir.ts";
import { makeTestCa } from "../../../testing/test-ca.ts";
import { readDiscoveredAddresses } from "../../render/addresses.ts";
import { CREDENTIALS_FILE } from "../../state/credentials.ts";
import { recordedRuntime } from "../../state/runtime.ts";
import { TLS_DIR } from "../../state/tls.ts";
import { DEFAULT_FLEET, parseFleet, parseFleetYaml } from "../../topology/load.ts";
import { createKubeRuntime } from "./index.ts";
import { realDeps } from "./run-context.ts";
import { readState } from "./state.ts";
import {
  addCloudClusters,
  assertGolden,
  defaultTopology,
  harness,
  recordingReporter,
  TESTDATA,
  topologyOf,
} from "./testdata/fixtures.ts";
import { fakeClock } from "./wait.ts";

const creates = (lines: string[]) =>
  lines.filter((l) => /kind create|helm upgrade|→ (created|configured)/.test(l));

describe("up on kind: the exact calls, in order", () => {
  const cases = [
    { name: "default", golden: "up-default.txt", topology: async () => defaultTopology() },
    {
      name: "four workload clusters",
      golden: "up-four-workloads.txt",
      topology: () => topologyOf("four-workloads.yaml"),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: first up, then a second up that changes nothing`, async () => {
      const h = await harness(await c.topology());
      try {
        await h.up();
        await assertGolden(c.golden, h.world.recorder.lines);
        assert.ok(h.world.takeChanges() > 0);

        const mark = h.world.recorder.mark();
        await h.up();
        const again = h.world.recorder.since(mark);
        await assertGolden(c.golden.replace(".txt", "-again.txt"), again);
        assert.deepEqual(creates(again), [], "a second up creates, upgrades or changes nothing");
        assert.equal(h.world.takeChanges(), 0, "every apply of the second up is a no-op");
        assert.ok(
          !again.some((l) => l.startsWith("$ helm repo")),
          "no repository refresh when nothing is installed",
        );
      } finally {
        await h.cleanup();
      }
    });
  }

  it("records which kind clusters thanos-fleet created, and each namespace it created", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      const state = await readState(h.stateDir);
      assert.deepEqual(
        Object.entries(state.clusters).map(([name, c]) => [
          name,
          c.createdKind,
          c.context,
          c.namespacesCreated,
        ]),
        [
          ["mgmt", true, "kind-mgmt", ["monitoring"]],
          ["biz1", true, "kind-biz1", ["monitoring"]],
          ["biz2", true, "kind-biz2", ["monitoring"]],
          ["minio", true, "kind-minio", ["monitoring"]],
        ],
      );
      assert.deepEqual(state.clusters.biz1?.helmReleases, [
        { name: "kube-prometheus-stack", namespace: "monitoring" },
      ]);
    } finally {
      await h.cleanup();
    }
  });

  it("creates all clusters at once when the kind network already exists", async () => {
    const world = new FakeWorld();
    world.kindNetwork = true;
    const h = await harness(defaultTopology(), world);
    try {
      await h.up();
      const steps = h.world.recorder.lines.filter((l) => l.startsWith("## create"));
      assert.deepEqual(steps, ["## create kind clusters mgmt, biz1, biz2, minio in parallel"]);
    } finally {
      await h.cleanup();
    }
  });

  it("gets a reused cluster's context back from kind when the kubeconfig lost it", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      h.world.takeChanges();
      h.world.forgetContext("kind-biz2");
      const mark = h.world.recorder.mark();
      await h.up();
      const kind = h.world.recorder.since(mark).filter((l) => l.startsWith("$ kind"));
      assert.deepEqual(kind, [
        "$ kind version",
        "$ kind get clusters",
        "$ kind export kubeconfig --name biz2",
      ]);
      assert.equal(h.world.takeChanges(), 0);
    } finally {
      await h.cleanup();
    }
  });

  it("labels every applied object as thanos-fleet's", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      for (const api of h.world.apis.values()) {
        for (const { obj, applied } of api.objects.values()) {
          if (!applied) continue; // made by the chart or the operator
          assert.equal(
            obj.metadata.labels?.["app.kubernetes.io/managed-by"],
            "thanos-fleet",
            `${obj.kind} ${obj.metadata.name}`,
          );
        }
      }
    } finally {
      await h.cleanup();
    }
  });
});

describe("up after Docker restarted: new node addresses are found and wired in", () => {
  it("re-applies what names an address, upgrades the charts, and changes nothing else", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      const before = await readDiscoveredAddresses(h.stateDir);
      h.world.takeChanges();
      h.world.restartDocker();
      const mark = h.world.recorder.mark();
      await h.up();
      const lines = h.world.recorder.since(mark);
      await assertGolden("up-after-docker-restart.txt", lines);
      const after = await readDiscoveredAddresses(h.stateDir);
      assert.notDeepEqual(after, before);
      assert.ok(!lines.some((l) => l.includes("kind create")), "the clusters are reused");
      // mgmt's query-frontend moved: Grafana's datasource in each workload cluster follows it.
      const values = parse(
        await readFile(join(h.stateDir, "kube", "biz1", "values-kube-prometheus-stack.yaml"), "utf8"),
      );
      const ds = values.grafana.additionalDataSources[0];
      assert.equal(ds.url, `https://${after?.nodeIP.mgmt}:30900`);
      assert.ok(
        lines.some(
          (l) => l.includes("helm upgrade --install kube-prometheus-stack") && l.includes("kind-biz1"),
        ),
      );
    } finally {
      await h.cleanup();
    }
  });
});

describe("up on existing clusters with an external object store", () => {
  it("never creates or deletes an existing cluster, and uses the credentials file's key", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["prod-mgmt", "prod-eu1"]);
    const h = await harness(await topologyOf("existing.yaml"), world);
    try {
      await h.up();
      await assertGolden("up-existing.txt", h.world.recorder.lines);
      const lines = h.world.recorder.lines;
      assert.deepEqual(
        lines.filter((l) => l.includes("kind create")).map((l) => l.split(" --config")[0]),
        ["$ kind create cluster --name lab"],
      );
      const secret = h.world.fakeApi("prod-eu1").objects.get("v1|Secret|monitoring|thanos-objstore")?.obj;
      const stringData = (secret?.stringData ?? {}) as Record<string, string>;
      const objstore = parse(stringData["objstore.yml"] ?? "");
      assert.deepEqual(
        [objstore.config.endpoint, objstore.config.access_key, objstore.config.secret_key],
        ["s3.example.internal:9000", "fake-s3-access", "fake-s3-secret"],
      );
      const state = await readState(h.stateDir);
      assert.deepEqual(
        Object.entries(state.clusters)
          .map(([n, c]) => [n, c.createdKind])
          .sort(),
        [
          ["eu1", false],
          ["lab", true],
          ["mgmt", false],
        ],
      );
    } finally {
      await h.cleanup();
    }
  });

  it("takes LoadBalancer addresses from the Services once assigned, and wires them in", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    for (const ctx of ["cloud-mgmt", "cloud-us1"]) {
      const api = world.fakeApi(ctx);
      api.loadBalancerIngress = { hostname: `${ctx}.elb.example.internal` };
      // The load balancer takes a few polls to assign its address.
      api.readyAfterReads = 2;
    }
    const h = await harness(await topologyOf("load-balancer.yaml"), world);
    try {
      await h.up();
      await assertGolden("up-load-balancer.txt", h.world.recorder.lines);
      const found = await readDiscoveredAddresses(h.stateDir);
      assert.equal(found?.loadBalancer?.mgmt?.["30900"], "cloud-mgmt.elb.example.internal:10902");
      assert.equal(found?.loadBalancer?.us1?.["31000"], "cloud-us1.elb.example.internal:10901");
      const values = parse(
        await readFile(join(h.stateDir, "kube", "us1", "values-kube-prometheus-stack.yaml"), "utf8"),
      );
      assert.equal(
        values.grafana.additionalDataSources[0].url,
        "https://cloud-mgmt.elb.example.internal:10902",
      );
    } finally {
      await h.cleanup();
    }
  });

  it("stops with the Service named when no load balancer ever assigns an address", async () => {
    const world = new FakeWorld();
    addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
    const h = await harness(await topologyOf("load-balancer.yaml"), world);
    try {
      await assert.rejects(h.up(), (error: Error) => {
        const cause = error.cause as Error;
        assert.match(
          error.message,
          /step 'discover node addresses and load-balancer addresses \(mgmt, us1\)' failed/,
        );
        assert.match(cause.message, /Service monitoring\/\S+ in cluster mgmt has no load-balancer address/);
        assert.match(cause.message, /set serviceType: NodePort/);
        assert.match(cause.message, /waited 5m/);
        return true;
      });
    } finally {
      await h.cleanup();
    }
  });
});

describe("up with a cert-manager Issuer (tls.issuer) on existing clusters", () => {
  it("applies each cluster's Certificates after its Secrets, waits until Ready, then its workloads; makes no leaf", async () => {
    const dir = await tempDir("issuer-fleet-");
    {
      makeTestCa(dir, { certFile: "ca.pem", subject: "/CN=Org CA", days: 30 });
      const yaml = `objectStore:
  endpoint: s3.example.internal:9000
  insecure: true
  credentialsFile: ${join(TESTDATA, "s3-credentials.yaml")}
tls:
  issuer: {name: fleet-ca, ca: ca.pem}
clusters:
  - {name: mgmt, role: observer, context: cloud-mgmt}
  - {name: us1, role: workload, context: cloud-us1}
`;
      await writeFile(join(dir, "fleet.yaml"), yaml);
      const topology = parseFleetYaml(yaml, join(dir, "fleet.yaml"));
      const world = new FakeWorld();
      addCloudClusters(world, ["cloud-mgmt", "cloud-us1"]);
      for (const context of ["cloud-mgmt", "cloud-us1"]) {
        const api = world.fakeApi(context);
        api.readyAfterReads = 2;
        await api.serverSideApply({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: "certificates.cert-manager.io" },
        });
        await api.serverSideApply({
          apiVersion: "cert-manager.io/v1",
          kind: "ClusterIssuer",
          metadata: { name: "fleet-ca" },
        });
      }
      const h = await harness(topology, world);
      try {
        await h.up();
        const lines = h.world.recorder.lines;
        const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
        const cert = at(
          /cloud-mgmt: apply cert-manager\.io\/v1 Certificate monitoring\/thanos-query → created/,
        );
        assert.ok(cert > 0, "mgmt's Certificates applied");
        assert.ok(
          at(/cloud-mgmt: apply v1 Secret monitoring\/thanos-query-files/) < cert,
          "after its Secrets",
        );
        assert.ok(cert < at(/cloud-mgmt: apply apps\/v1 Deployment monitoring\/thanos-query → created/));
        assert.ok(
          at(/cloud-us1: apply cert-manager\.io\/v1 Certificate monitoring\/alertmanager → created/) <
            at(/helm upgrade --install kube-prometheus-stack .* --kube-context cloud-us1/),
          "before the chart whose pods mount them",
        );
        assert.ok(
          lines.some((l) =>
            /mgmt: \d+ Certificates from ClusterIssuer fleet-ca \(cert-manager\), until Ready/.test(l),
          ),
        );
        assert.ok(lines.some((l) => /^> +0 of \d+ Certificates Ready$/.test(l)));
        assert.ok(lines.some((l) => /^> +(\d+) of \1 Certificates Ready$/.test(l)));
        // cert-manager writes the servers' Secrets: thanos-fleet applies none of them, and makes no leaf.
        assert.deepEqual(
          lines.filter((l) => / apply v1 Secret monitoring\/(?!thanos-fleet-)[^ ]+-tls /.test(l)),
          [],
        );
        assert.ok(!(await readdir(join(h.stateDir, TLS_DIR))).includes("servers"));
        const bundle = await readFile(join(h.stateDir, TLS_DIR, "ca-bundle.crt"), "utf8");
        const fleetCa = await readFile(join(h.stateDir, TLS_DIR, "ca.crt"), "utf8");
        assert.equal(bundle, `${fleetCa}${await readFile(join(dir, "ca.pem"), "utf8")}`);
        // A re-run changes nothing.
        h.world.recorder.lines.length = 0;
        await h.up();
        assert.deepEqual(
          h.world.recorder.lines.filter((l) => / Certificate .*→ (created|configured)/.test(l)),
          [],
        );
        // The Secret cert-manager writes carries the Certificate's secretTemplate labels (no owner reference):
        // down removes it with the Certificates, as it removes thanos-fleet's own Secrets.
        const mgmt = h.world.fakeApi("cloud-mgmt");
        const query = mgmt.objects.get("cert-manager.io/v1|Certificate|monitoring|thanos-query")?.obj;
        const template = (query?.spec as { secretTemplate: { labels: Record<string, string> } })
          .secretTemplate;
        await mgmt.serverSideApply({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "thanos-query-tls", namespace: "monitoring", labels: template.labels },
        });
        await h.down();
        const left = [...mgmt.objects.keys()].filter((k) => /Certificate|thanos-query-tls/.test(k));
        assert.deepEqual(left, []);
      } finally {
        await h.cleanup();
      }
    }
  });
});

describe("up failures name the step, the command and the tail of its output", () => {
  it("kind create cluster failing", async () => {
    const world = new FakeWorld();
    world.failures.set(
      "kind create cluster --name biz2",
      'ERROR: failed to create cluster: command "docker run --name biz2-control-plane" failed with error: exit status 125\n' +
        "Command Output: docker: Error response from daemon: driver failed programming external connectivity: Bind for 127.0.0.1:20200 failed: port is already allocated.",
    );
    const h = await harness(defaultTopology(), world);
    try {
      await assert.rejects(h.up(), (error: Error) => {
        assert.equal(error.message, "step 'create kind clusters biz1, biz2, minio in parallel' failed");
        const cause = error.cause as Error;
        assert.match(
          cause.message,
          /'kind create cluster --name biz2 --config \S+\/kube\/biz2\/kind.yaml --wait 5m' exited with status 1/,
        );
        assert.match(cause.message, /port is already allocated/);
        return true;
      });
      const state = await readState(h.stateDir);
      assert.deepEqual(
        Object.entries(state.clusters).map(([n, c]) => [n, c.createdKind]),
        [
          ["mgmt", true],
          ["biz1", true],
          ["minio", true],
        ],
        "the clusters kind did create are recorded, so down deletes them",
      );
      assert.ok(
        h.world.recorder.lines.includes(
          "!! 'kind create cluster --name biz2 --config $STATE/kube/biz2/kind.yaml --wait 5m' exited with status 1:",
        ),
      );
    } finally {
      await h.cleanup();
    }
  });

  it("a setup Job that fails", async () => {
    const world = new FakeWorld();
    world.failingJobs.add("seaweedfs-setup");
    const h = await harness(defaultTopology(), world);
    try {
      await assert.rejects(h.up(), (error: Error) => {
        assert.match(error.message, /^step 'minio: wait for SeaweedFS/);
        assert.match(
          (error.cause as Error).message,
          /Job monitoring\/seaweedfs-setup in context kind-minio failed \(BackoffLimitExceeded\)/,
        );
        assert.match(
          (error.cause as Error).message,
          /kubectl --context kind-minio -n monitoring logs job\/seaweedfs-setup/,
        );
        return true;
      });
    } finally {
      await h.cleanup();
    }
  });
});

describe("up after the chart: the operator's Prometheus must run", () => {
  it("a crash-looping Prometheus fails up, naming the pod, its exit and its log, before anything else is applied", async () => {
    const world = new FakeWorld();
    world.crashingPrometheusLog = 'msg="Error loading config" err="unknown field \\"bogus\\""';
    const h = await harness(defaultTopology(), world);
    try {
      await assert.rejects(h.up(), (error: Error) => {
        assert.match(
          error.message,
          /^step 'wait for the Prometheus and Alertmanager pods the Prometheus Operator runs on biz1, biz2' failed/,
        );
        const cause = (error.cause as Error).message;
        assert.match(cause, /biz1: .*kind-biz1 cannot become ready/);
        assert.match(
          cause,
          /pod monitoring\/prometheus-kube-prometheus-stack-prometheus-0: container prometheus: CrashLoopBackOff; 5 restarts; last exit: Error, code 2/,
        );
        assert.match(cause, /Error loading config/);
        return true;
      });
      assert.ok(
        !world.recorder.lines.some((l) => !l.startsWith(">") && l.includes("thanos-query")),
        "mgmt was not applied",
      );
    } finally {
      await h.cleanup();
    }
  });
});

describe("a changed setup Job is replaced, since a Job's template is immutable", () => {
  it("deletes it, waits until it is gone, and applies it again", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      const api = h.world.fakeApi("kind-minio");
      const stored = api.objects.get("batch/v1|Job|monitoring|seaweedfs-setup");
      assert.ok(stored);
      // What an older thanos-fleet applied: another template.
      (stored.obj.spec as { backoffLimit: number }).backoffLimit = 3;
      stored.applied = "{}";
      const mark = h.world.recorder.mark();
      await h.up();
      const lines = h.world.recorder.since(mark).filter((l) => /seaweedfs-setup(?!-)/.test(l));
      assert.deepEqual(lines, [
        "kind-minio: apply v1 ConfigMap monitoring/seaweedfs-setup → unchanged",
        "kind-minio: apply batch/v1 Job monitoring/seaweedfs-setup → rejected: immutable",
        "kind-minio: delete batch/v1 Job monitoring/seaweedfs-setup → deleted",
        "kind-minio: get batch/v1 Job monitoring/seaweedfs-setup",
        "kind-minio: apply batch/v1 Job monitoring/seaweedfs-setup → created",
        "kind-minio: get batch/v1 Job monitoring/seaweedfs-setup",
      ]);
    } finally {
      await h.cleanup();
    }
  });
});

describe("up ends with verify and the URLs to open", () => {
  it("hands verify the runtime's endpoints and prints its table; a failing verify fails up", async () => {
    for (const ok of [true, false]) {
      const world = new FakeWorld();
      const h = await harness(defaultTopology(), world);
      const runtime = createKubeRuntime({
        ...h.deps,
        verify: async (_t, opts) => {
          const endpoints = await opts.endpoints();
          return {
            ok,
            text: `CHECK STATUS\nstores ${ok ? "pass" : "FAIL"} (${endpoints.targets.length} targets)\n`,
          };
        },
      });
      const reporter = recordingReporter(world.recorder);
      const run = runtime.up(defaultTopology(), {
        stateDir: h.stateDir,
        reporter,
        signal: new AbortController().signal,
        verbose: false,
      });
      try {
        if (ok) {
          await run;
          const lines = world.recorder.lines;
          assert.ok(lines.includes("## verify --wait: the fleet end to end"));
          assert.ok(
            lines.some((l) => /^> stores pass \(\d+ targets\)$/.test(l)),
            lines.slice(-20).join("\n"),
          );
          assert.ok(lines.includes(">   query-frontend (mgmt)        https://127.0.0.1:20000"));
        } else {
          await assert.rejects(run, (e: Error) => {
            assert.match((e.cause as Error).message, /verify found failures:\nCHECK STATUS\nstores FAIL/);
            return true;
          });
        }
      } finally {
        await runtime.close();
        await h.cleanup();
      }
    }
  });
});

describe("up's verify step shows what it waits for", () => {
  it("each change of what is still pending is a line while the step runs", async () => {
    const world = new FakeWorld();
    const h = await harness(defaultTopology(), world);
    const runtime = createKubeRuntime({
      ...h.deps,
      verify: async (_t, opts) => {
        const checks = [
          { id: "query", title: "q", status: "pass" as const, detail: "ok" },
          { id: "objstore", title: "o", status: "pending" as const, detail: "no block in the bucket yet" },
        ];
        opts.onProgress?.({
          report: {
            runtime: "kubernetes",
            ok: true,
            checks,
            summary: { pass: 1, fail: 0, pending: 1 },
            durationMs: 1,
          } as never,
          remainingMs: 240_000,
        });
        return { ok: true, text: "CHECK STATUS\n" };
      },
    });
    try {
      await runtime.up(defaultTopology(), {
        stateDir: h.stateDir,
        reporter: recordingReporter(world.recorder),
        signal: new AbortController().signal,
        verbose: false,
      });
      const lines = world.recorder.lines;
      const step = lines.indexOf("## verify --wait: the fleet end to end");
      assert.ok(step >= 0);
      assert.ok(
        lines.slice(step).includes("> verify: 1/2 pass; waiting for objstore (4m left)"),
        lines.slice(step).join("\n"),
      );
      assert.ok(lines.slice(step).includes("> verify:   objstore pending: no block in the bucket yet"));
    } finally {
      await runtime.close();
      await h.cleanup();
    }
  });
});

describe("up with a damaged state file", () => {
  it("stops before doing anything, naming the file", async () => {
    const h = await harness(defaultTopology());
    try {
      await h.up();
      await writeFile(join(h.stateDir, "kube", "state.json"), "{not json");
      const mark = h.world.recorder.mark();
      await assert.rejects(h.up(), /state .*state.json is damaged/);
      assert.deepEqual(h.world.recorder.since(mark), []);
    } finally {
      await h.cleanup();
    }
  });
});

describe("up writes nothing before preflight has passed", () => {
  it("no state dir, credentials or TLS material after a failed preflight; all of it once preflight passes", async () => {
    const world = new FakeWorld();
    world.dockerRunning = false;
    const root = await tempDir("thanos-fleet-preflight-");
    const stateDir = join(root, "state");
    const runtime = createKubeRuntime(
      realDeps({
        exec: world.exec,
        api: world.api,
        clock: fakeClock(),
        platform: "linux",
        readSysctl: async (name) => world.sysctl[name],
      }),
    );
    const topology = parseFleet({ ...DEFAULT_FLEET, tls: { grpc: true } }, "tls.yaml");
    const up = () =>
      runtime.up(topology, {
        stateDir,
        reporter: recordingReporter(world.recorder),
        signal: new AbortController().signal,
        verbose: false,
      });
    try {
      await assert.rejects(up(), (err: Error) =>
        (err.cause as Error).message.includes("nothing was created"),
      );
      assert.deepEqual(await readdir(root), []);

      world.dockerRunning = true;
      await up();
      assert.equal(await recordedRuntime(stateDir), "kubernetes");
      assert.equal((await stat(join(stateDir, CREDENTIALS_FILE))).mode & 0o777, 0o600);
      assert.ok((await readdir(join(stateDir, TLS_DIR))).includes("ca.crt"));
      // The rendered gRPC TLS material reached the fleet: sidecars serve with a certificate.
      const secrets = [...world.fakeApi("kind-biz1").objects.values()].map((o) => o.obj.metadata.name);
      assert.ok(
        secrets.some((name) => name.includes("tls")),
        secrets.join(", "),
      );
    } finally {
      await runtime.close();
    }
  });
});

describe("the real dependencies", () => {
  it("read the inotify limits from /proc/sys on Linux", async () => {
    const deps = realDeps();
    const value = await deps.readSysctl("fs/inotify/max_user_watches");
    if (process.platform === "linux") assert.match(value ?? "", /^\d+\n?$/);
    assert.equal(await deps.readSysctl("no/such/sysctl"), undefined);
  });

  it("a fake clock waits ten minutes in no time", async () => {
    const clock = fakeClock();
    await clock.sleep(600_000);
    assert.equal(clock.now(), 600_000);
  });
});
