import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKubeApi, Recorder, readyPod } from "../../../testing/kube/fake-world.ts";
import type { KubeObject } from "../../render/types.ts";
import { prometheusMadeAt, waitOperated } from "./operated.ts";
import { fakeClock } from "./wait.ts";

const NS = "monitoring";
const STS = "prometheus-kube-prometheus-stack-prometheus";
const POD = `${STS}-0`;
const SELECTOR = { "app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "kps-prometheus" };

/** A workload cluster after the chart's install: one Prometheus resource and the StatefulSet the operator made. */
function cluster(): FakeKubeApi {
  const api = new FakeKubeApi("kind-biz1", new Recorder());
  const uid = "uid-prom";
  api.put({
    apiVersion: "monitoring.coreos.com/v1",
    kind: "Prometheus",
    metadata: { name: "kube-prometheus-stack-prometheus", namespace: NS, uid },
  });
  api.put({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: STS,
      namespace: NS,
      ownerReferences: [{ kind: "Prometheus", name: "kube-prometheus-stack-prometheus", uid }],
    },
    spec: { replicas: 1, selector: { matchLabels: SELECTOR } },
  });
  return api;
}

function crashingPod(restarts: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: POD, namespace: NS, labels: SELECTOR },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: "False" }],
      containerStatuses: [
        { name: "config-reloader", ready: true, restartCount: 0, state: { running: {} } },
        {
          name: "prometheus",
          ready: false,
          restartCount: restarts,
          state: {
            waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" },
          },
          lastState: { terminated: { reason: "Error", exitCode: 1 } },
        },
      ],
    },
  };
}

describe("up waits for the Prometheus and Alertmanager the operator runs", () => {
  it("ends once the operator's StatefulSet is ready", async () => {
    const api = cluster();
    api.put(readyPod(POD, NS, SELECTOR, "prometheus"));
    await waitOperated(api, NS, { clock: fakeClock(), timeoutMs: 600_000 });
  });

  it("a crash loop that will not settle ends the wait at once, naming the pod, its last exit and its log", async () => {
    const api = cluster();
    api.stuck.add(STS);
    api.put(crashingPod(6));
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    lines.push(
      'ts=2026-11-30 level=ERROR msg="Error loading config" err="parsing YAML file /etc/prometheus/config"',
    );
    api.podLogs.set(`${POD}/prometheus/previous`, lines.join("\n"));
    const clock = fakeClock();
    const told: string[] = [];
    await assert.rejects(
      waitOperated(api, NS, { clock, timeoutMs: 600_000, onChange: (l) => told.push(l) }),
      (err: Error) => {
        assert.match(err.message, /cannot become ready/);
        assert.match(
          err.message,
          /not ready: StatefulSet monitoring\/prometheus-kube-prometheus-stack-prometheus \(0\/1 ready/,
        );
        assert.match(
          err.message,
          /pod monitoring\/prometheus-kube-prometheus-stack-prometheus-0: container prometheus: CrashLoopBackOff; 6 restarts; last exit: Error, code 1/,
        );
        assert.match(err.message, /log before its last restart \(last 20 lines\)/);
        assert.match(err.message, /Error loading config/);
        assert.doesNotMatch(err.message, /line 10\n/, "only the tail of the log");
        assert.match(err.message, /kubectl --context kind-biz1 -n monitoring describe pods/);
        return true;
      },
    );
    assert.equal(clock.slept, 0, "no waiting on a crash loop past five restarts");
    assert.deepEqual(told, [
      `pod ${POD}: container prometheus: CrashLoopBackOff; 6 restarts; last exit: Error, code 1; back-off 40s restarting failed container`,
    ]);
  });

  it("tells each change of a pod's trouble while it waits, and ends when the pod recovers", async () => {
    const api = cluster();
    api.stuck.add(STS);
    api.put(crashingPod(1));
    const told: string[] = [];
    await waitOperated(api, NS, {
      clock: fakeClock(),
      timeoutMs: 600_000,
      onChange: (line) => {
        told.push(line);
        api.stuck.delete(STS);
        api.put(readyPod(POD, NS, SELECTOR, "prometheus"));
      },
    });
    assert.equal(told.length, 1);
    assert.match(told[0] ?? "", /CrashLoopBackOff; 1 restarts/);
  });

  it("an image that may not be pulled ends the wait at once", async () => {
    const api = cluster();
    api.stuck.add(STS);
    api.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: POD, namespace: NS, labels: SELECTOR },
      status: {
        phase: "Pending",
        conditions: [{ type: "Ready", status: "False" }],
        initContainerStatuses: [
          {
            name: "init-config-reloader",
            ready: false,
            restartCount: 0,
            state: {
              waiting: {
                reason: "ErrImageNeverPull",
                message:
                  'Container image "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1" is not present with pull policy of Never',
              },
            },
          },
        ],
      },
    });
    const clock = fakeClock();
    await assert.rejects(waitOperated(api, NS, { clock, timeoutMs: 600_000 }), (err: Error) => {
      assert.match(
        err.message,
        /container init-config-reloader: ErrImageNeverPull; Container image .* is not present/,
      );
      assert.doesNotMatch(err.message, /log/, "a container that never started has no log to show");
      return true;
    });
    assert.equal(clock.slept, 0);
  });

  it("a pod that is never scheduled fails the wait at its deadline, with the scheduler's reason", async () => {
    const api = cluster();
    api.stuck.add(STS);
    api.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: POD, namespace: NS, labels: SELECTOR },
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/2 nodes are available: 2 Insufficient memory.",
          },
        ],
      },
    });
    const clock = fakeClock();
    await assert.rejects(waitOperated(api, NS, { clock, timeoutMs: 600_000 }), (err: Error) => {
      assert.match(err.message, /^not ready in context kind-biz1 after 10m:/);
      assert.match(err.message, /not scheduled: 0\/2 nodes are available: 2 Insufficient memory/);
      return true;
    });
    assert.equal(clock.slept, 600_000);
  });

  it("no Prometheus resource at all: says so and where to look", async () => {
    const api = new FakeKubeApi("kind-biz1", new Recorder());
    await assert.rejects(
      waitOperated(api, NS, { clock: fakeClock(), timeoutMs: 60_000 }),
      /no Prometheus or Alertmanager resource in namespace monitoring of context kind-biz1.*helm --kube-context kind-biz1 -n monitoring get manifest/,
    );
  });

  it("waits for a StatefulSet the operator has not made yet", async () => {
    const api = cluster();
    api.put({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "Alertmanager",
      metadata: { name: "kube-prometheus-stack-alertmanager", namespace: NS, uid: "uid-am" },
    });
    api.put(readyPod(POD, NS, SELECTOR, "prometheus"));
    await assert.rejects(waitOperated(api, NS, { clock: fakeClock(), timeoutMs: 60_000 }), (err: Error) => {
      assert.match(
        err.message,
        /not ready: Alertmanager monitoring\/kube-prometheus-stack-alertmanager \(the operator has made no StatefulSet for it yet\)/,
      );
      return true;
    });
  });
});

describe("when a workload cluster's Prometheus was last made (verify's gaps check spares holes before it)", () => {
  const made = (api: FakeKubeApi, name: string, at: string, owner = "kube-prometheus-stack-prometheus") =>
    api.put({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: {
        name,
        namespace: NS,
        creationTimestamp: at,
        ownerReferences: [{ kind: "Prometheus", name: owner, uid: "uid-prom" }],
      },
    });

  it("is the creation time of the StatefulSet the operator owns for the Prometheus resource", async () => {
    const api = cluster();
    made(api, STS, "2026-12-07T05:00:00Z");
    // Alertmanager's StatefulSet, and one of a Prometheus resource that is gone, say nothing of it.
    made(api, "alertmanager-x", "2026-12-07T06:00:00Z", "kube-prometheus-stack-alertmanager");
    made(api, "prometheus-old-shard", "2026-12-07T06:30:00Z", "a-deleted-prometheus");
    assert.equal(await prometheusMadeAt(api, NS), "2026-12-07T05:00:00.000Z");
  });

  it("the newest of several (a second shard made later)", async () => {
    const api = cluster();
    made(api, STS, "2026-12-07T05:00:00Z");
    made(api, `${STS}-shard-1`, "2026-12-07T05:10:00Z");
    assert.equal(await prometheusMadeAt(api, NS), "2026-12-07T05:10:00.000Z");
  });

  it("the client's Date as well as the API's text", async () => {
    const api = cluster();
    api.put({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: {
        name: STS,
        namespace: NS,
        creationTimestamp: new Date("2026-12-07T05:20:00Z"),
        ownerReferences: [{ kind: "Prometheus", name: "kube-prometheus-stack-prometheus", uid: "uid-prom" }],
      },
    });
    assert.equal(await prometheusMadeAt(api, NS), "2026-12-07T05:20:00.000Z");
  });

  it("is unknown where the operator has made nothing", async () => {
    const api = new FakeKubeApi("kind-biz1", new Recorder());
    assert.equal(await prometheusMadeAt(api, NS), undefined);
  });
});
