import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type FakeKubeApi, readyPod } from "../../testing/kube/fake-world.ts";
import { drillCommand } from "../commands/drill.ts";
import { receiveTopology, render } from "../render/testdata/fixtures.ts";
import type { KubeObject } from "../render/types.ts";
import { defaultTopology, type Harness, harness } from "../runtimes/kube/testdata/fixtures.ts";
import { fakeClock, WaitTimeoutError } from "../runtimes/kube/wait.ts";
import { CUT_OFF_KEY, kubeFaults } from "./kube.ts";
import type { Faults } from "./run.ts";
import { type Scenario, scenarios } from "./scenarios.ts";

const NS = "monitoring";
const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
const REVISION_LABEL = "controller-revision-hash";

/**
 * What the controllers of a cluster do after each write, at once: StatefulSets and Deployments run as many ready pods
 * as their replicas say (the operator's StatefulSet as many as its Prometheus resource says), a deleted pod comes
 * back with a new uid, a StatefulSet whose pod template changed replaces its pods, highest ordinal first, and reports
 * the new revision current, and each Service's EndpointSlice lists the ready pods its selector matches.
 */
class Controllers {
  paused = false;
  private serial = 0;
  constructor(private readonly api: FakeKubeApi) {
    const patch = api.mergePatch.bind(api);
    const del = api.delete.bind(api);
    api.mergePatch = async (ref, p) => {
      const out = await patch(ref, p);
      this.reconcile();
      return out;
    };
    api.delete = async (ref) => {
      const out = await del(ref);
      this.reconcile();
      return out;
    };
    this.reconcile();
  }

  private objects(kind: string): KubeObject[] {
    return [...this.api.objects.values()].map((s) => s.obj).filter((o) => o.kind === kind);
  }

  private remove(obj: KubeObject): void {
    for (const [key, s] of this.api.objects) if (s.obj === obj) this.api.objects.delete(key);
  }

  reconcile(): void {
    if (this.paused) return;
    for (const w of [...this.objects("StatefulSet"), ...this.objects("Deployment")]) {
      const spec = w.spec as { replicas?: number; selector: { matchLabels: Record<string, string> } };
      const owner = (w.metadata.ownerReferences as { kind: string; name: string }[] | undefined)?.[0];
      const cr = owner && this.objects(owner.kind).find((o) => o.metadata.name === owner.name);
      const replicas = cr ? ((cr.spec as { replicas?: number }).replicas ?? 1) : (spec.replicas ?? 1);
      spec.replicas = replicas;
      const labels = spec.selector.matchLabels;
      const pods = this.objects("Pod").filter((p) =>
        Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v),
      );
      if (w.kind === "StatefulSet") {
        const revision = `${w.metadata.name}-${createHash("sha256")
          .update(JSON.stringify((w.spec as { template?: unknown }).template ?? {}))
          .digest("hex")
          .slice(0, 8)}`;
        const current = pods.sort((a, b) =>
          b.metadata.name.localeCompare(a.metadata.name, undefined, { numeric: true }),
        );
        for (const p of current) {
          const ordinal = Number(p.metadata.name.slice(w.metadata.name.length + 1));
          if (ordinal >= replicas || (p.metadata.labels?.[REVISION_LABEL] ?? revision) !== revision)
            this.remove(p);
          else
            p.metadata.labels = {
              ...p.metadata.labels,
              [POD_NAME_LABEL]: p.metadata.name,
              [REVISION_LABEL]: revision,
            };
        }
        const left = this.objects("Pod");
        for (let i = replicas - 1; i >= 0; i--) {
          const name = `${w.metadata.name}-${i}`;
          if (!left.some((p) => p.metadata.name === name))
            this.api.put(
              readyPod(name, NS, { ...labels, [POD_NAME_LABEL]: name, [REVISION_LABEL]: revision }, "main"),
            );
        }
        w.status = {
          currentRevision: revision,
          updateRevision: revision,
          updatedReplicas: replicas,
          availableReplicas: replicas,
        };
      } else {
        const sorted = pods.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
        for (const p of sorted.slice(replicas)) this.remove(p);
        for (let i = sorted.length; i < replicas; i++)
          this.api.put(readyPod(`${w.metadata.name}-7f9c-${++this.serial}`, NS, labels, "main"));
      }
    }
    for (const svc of this.objects("Service")) {
      const selector = (svc.spec as { selector?: Record<string, string> }).selector ?? {};
      const ready = this.objects("Pod").filter((p) =>
        Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v),
      );
      this.api.put({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: `${svc.metadata.name}-x1`,
          namespace: NS,
          labels: { "kubernetes.io/service-name": svc.metadata.name },
        },
        endpoints: ready.map((p) => ({ conditions: { ready: true }, targetRef: { name: p.metadata.name } })),
      });
    }
  }
}

/** The writes (patches, deletes) recorded since the mark: what a fault changes in the clusters. */
function writes(h: Harness, mark: number): string[] {
  return h.world.recorder.since(mark).filter((l) => / (patch|delete) /.test(l));
}

function podNames(api: FakeKubeApi, prefix: string): string[] {
  return [...api.objects.values()]
    .map((s) => s.obj)
    .filter((o) => o.kind === "Pod" && o.metadata.name.startsWith(prefix))
    .map((o) => o.metadata.name)
    .sort();
}

describe("drill faults on Kubernetes", () => {
  const topology = defaultTopology();
  let h: Harness;
  const controllers = new Map<string, Controllers>();
  const api = (context: string) => h.world.apis.get(context) as FakeKubeApi;
  const byId = (id: string) => scenarios(topology).find((s) => s.id === id) as Scenario;
  const faults = async (signal = new AbortController().signal): Promise<Faults> =>
    kubeFaults({ topology, ...(await h.runtime.faultTarget(topology, { stateDir: h.stateDir })), signal });

  before(async () => {
    h = await harness(topology);
    await h.up();
    for (const [context, a] of h.world.apis) controllers.set(context, new Controllers(a));
  });
  after(() => h.cleanup());

  it("a whole fleet passes the check", async () => {
    await (await faults()).check();
  });

  const expected: Record<string, { hold: string[]; lift: string[]; broken: (string | RegExp)[] }> = {
    "prometheus-replica": {
      hold: [
        'kind-biz1: patch monitoring.coreos.com/v1 Prometheus monitoring/kube-prometheus-stack-prometheus {"spec":{"replicas":1}}',
      ],
      lift: [
        'kind-biz1: patch monitoring.coreos.com/v1 Prometheus monitoring/kube-prometheus-stack-prometheus {"spec":{"replicas":2}}',
      ],
      broken: ["biz1/prometheus-kube-prometheus-stack-prometheus-1"],
    },
    sidecar: {
      hold: [
        'kind-biz1: patch monitoring.coreos.com/v1 Prometheus monitoring/kube-prometheus-stack-prometheus {"spec":{"replicas":1}}',
      ],
      lift: [
        'kind-biz1: patch monitoring.coreos.com/v1 Prometheus monitoring/kube-prometheus-stack-prometheus {"spec":{"replicas":2}}',
      ],
      broken: ["biz1/prometheus-kube-prometheus-stack-prometheus-1"],
    },
    "cluster-cut-off": {
      hold: [
        `kind-biz2: patch v1 Service monitoring/thanos-sidecar-0 {"spec":{"selector":{"${CUT_OFF_KEY}":"true"}}}`,
        `kind-biz2: patch v1 Service monitoring/thanos-sidecar-1 {"spec":{"selector":{"${CUT_OFF_KEY}":"true"}}}`,
        "kind-mgmt: delete v1 Pod monitoring/thanos-query-7f9c-1 → deleted",
        "kind-mgmt: delete v1 Pod monitoring/thanos-query-7f9c-2 → deleted",
      ],
      lift: [
        `kind-biz2: patch v1 Service monitoring/thanos-sidecar-0 {"spec":{"selector":{"${CUT_OFF_KEY}":null}}}`,
        `kind-biz2: patch v1 Service monitoring/thanos-sidecar-1 {"spec":{"selector":{"${CUT_OFF_KEY}":null}}}`,
      ],
      broken: [
        "biz2/prometheus-kube-prometheus-stack-prometheus-0",
        "biz2/prometheus-kube-prometheus-stack-prometheus-1",
      ],
    },
    "query-replica": {
      hold: ['kind-mgmt: patch apps/v1 Deployment monitoring/thanos-query {"spec":{"replicas":1}}'],
      lift: ['kind-mgmt: patch apps/v1 Deployment monitoring/thanos-query {"spec":{"replicas":2}}'],
      // Whichever pod the ReplicaSet removes (here the last by name): its real name, not the local runtime's.
      broken: [/^mgmt\/thanos-query-7f9c-\d+$/],
    },
    "store-gateway": {
      hold: ['kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-store {"spec":{"replicas":0}}'],
      lift: ['kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-store {"spec":{"replicas":1}}'],
      broken: ["mgmt/thanos-store-0"],
    },
    "ruler-replica": {
      hold: ['kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-ruler {"spec":{"replicas":1}}'],
      lift: ['kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-ruler {"spec":{"replicas":2}}'],
      broken: ["mgmt/thanos-ruler-1"],
    },
    "object-store": {
      hold: ['kind-minio: patch apps/v1 StatefulSet monitoring/seaweedfs {"spec":{"replicas":0}}'],
      lift: ['kind-minio: patch apps/v1 StatefulSet monitoring/seaweedfs {"spec":{"replicas":1}}'],
      broken: ["minio/seaweedfs-0"],
    },
    "compactor-restart": {
      hold: ["kind-mgmt: delete v1 Pod monitoring/thanos-compact-0 → deleted"],
      lift: [],
      broken: ["mgmt/thanos-compact-0"],
    },
  };

  it("covers every scenario", () => {
    assert.deepEqual(
      Object.keys(expected).sort(),
      scenarios(topology)
        .map((s) => s.id)
        // Its own suite below: it writes Secrets through the runtime, not objects through the fault.
        .filter((id) => id !== "cert-rotation")
        .sort(),
    );
  });

  for (const [id, want] of Object.entries(expected)) {
    it(`${id}: the fault and its lift write exactly these, and lifting brings back what was there`, async () => {
      const s = byId(id);
      const f = await faults();
      const snapshot = (ctx: string) =>
        JSON.stringify(
          [...api(ctx).objects.values()]
            .map((x) => x.obj)
            .filter((o) => ["Prometheus", "StatefulSet", "Deployment", "Service"].includes(o.kind))
            .map((o) => [o.kind, o.metadata.name, o.spec]),
        );
      const contexts = [...h.world.apis.keys()];
      const before = contexts.map(snapshot);
      const mark = h.world.recorder.mark();
      const fault = await f.inject(s);
      assert.deepEqual(writes(h, mark), want.hold);
      const broken = fault.brokenPods.map((p) => `${p.cluster}/${p.pod}`);
      assert.equal(broken.length, want.broken.length, broken.join(", "));
      want.broken.forEach((w, i) => {
        if (typeof w === "string") assert.equal(broken[i], w);
        else assert.match(broken[i] ?? "", w);
      });
      const liftMark = h.world.recorder.mark();
      await fault.lift();
      assert.deepEqual(writes(h, liftMark), want.lift);
      assert.deepEqual(contexts.map(snapshot), before, "replicas and selectors as they were");
    });
  }

  it("a replica held down is gone while the fault lasts, and ready again after", async () => {
    const fault = await (await faults()).inject(byId("prometheus-replica"));
    const prefix = "prometheus-kube-prometheus-stack-prometheus-";
    assert.deepEqual(podNames(api("kind-biz1"), prefix), [`${prefix}0`]);
    assert.match(fault.what, /replicas 2 → 1, pod prometheus-kube-prometheus-stack-prometheus-1 gone/);
    // Discovery drops the removed pod's own targets: the view leaves their series out.
    assert.deepEqual(fault.removedPods, [{ cluster: "biz1", pod: `${prefix}1` }]);
    await fault.lift();
    assert.deepEqual(podNames(api("kind-biz1"), prefix), [`${prefix}0`, `${prefix}1`]);
  });

  it("the sidecar scenario says that the whole pod went", async () => {
    const fault = await (await faults()).inject(byId("sidecar"));
    assert.match(fault.what, /the sidecar is a container of that pod: its Prometheus went too/);
    await fault.lift();
  });

  it("a lift after Ctrl-C still writes back what the fault changed, without waiting for the pods", async () => {
    const abort = new AbortController();
    const fault = await (await faults(abort.signal)).inject(byId("ruler-replica"));
    const mgmt = controllers.get("kind-mgmt") as Controllers;
    mgmt.paused = true;
    try {
      abort.abort(new Error("interrupted"));
      const mark = h.world.recorder.mark();
      await fault.lift();
      assert.deepEqual(writes(h, mark), [
        'kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-ruler {"spec":{"replicas":2}}',
      ]);
    } finally {
      mgmt.paused = false;
      mgmt.reconcile();
    }
    assert.deepEqual(podNames(api("kind-mgmt"), "thanos-ruler-"), ["thanos-ruler-0", "thanos-ruler-1"]);
  });

  it("a cut-off interrupted before it took hold gives the Services their selectors back", async () => {
    const abort = new AbortController();
    abort.abort(new Error("interrupted"));
    const mark = h.world.recorder.mark();
    await assert.rejects((await faults(abort.signal)).inject(byId("cluster-cut-off")), /interrupted/);
    assert.deepEqual(writes(h, mark), [
      `kind-biz2: patch v1 Service monitoring/thanos-sidecar-0 {"spec":{"selector":{"${CUT_OFF_KEY}":"true"}}}`,
      `kind-biz2: patch v1 Service monitoring/thanos-sidecar-1 {"spec":{"selector":{"${CUT_OFF_KEY}":"true"}}}`,
      `kind-biz2: patch v1 Service monitoring/thanos-sidecar-0 {"spec":{"selector":{"${CUT_OFF_KEY}":null}}}`,
      `kind-biz2: patch v1 Service monitoring/thanos-sidecar-1 {"spec":{"selector":{"${CUT_OFF_KEY}":null}}}`,
    ]);
    await (await faults()).check();
  });

  it("a scale-down that never takes hold is undone, and the error says what never happened", async () => {
    const mgmt = controllers.get("kind-mgmt") as Controllers;
    mgmt.paused = true;
    try {
      const mark = h.world.recorder.mark();
      await assert.rejects(
        (await faults()).inject(byId("store-gateway")),
        (e: Error) =>
          e instanceof WaitTimeoutError &&
          /StatefulSet monitoring\/thanos-store in mgmt to run 0 pod/.test(e.message),
      );
      assert.deepEqual(writes(h, mark), [
        'kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-store {"spec":{"replicas":0}}',
        'kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-store {"spec":{"replicas":1}}',
      ]);
    } finally {
      mgmt.paused = false;
      mgmt.reconcile();
    }
  });

  it("a fleet left short of a replica or cut off is refused, with the command that makes it whole", async () => {
    const biz1 = api("kind-biz1");
    const biz2 = api("kind-biz2");
    const prom = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "Prometheus",
      namespace: NS,
      name: "kube-prometheus-stack-prometheus",
    };
    const svc = { apiVersion: "v1", kind: "Service", namespace: NS, name: "thanos-sidecar-1" };
    await biz1.mergePatch(prom, { spec: { replicas: 1 } });
    await biz2.mergePatch(svc, { spec: { selector: { [CUT_OFF_KEY]: "true" } } });
    await api("kind-mgmt").mergePatch(
      { apiVersion: "apps/v1", kind: "StatefulSet", namespace: NS, name: "thanos-ruler" },
      { spec: { replicas: 1 } },
    );
    try {
      await assert.rejects((await faults()).check(), (e: Error) => {
        assert.match(e.message, /the fleet is not whole/);
        assert.match(
          e.message,
          /Prometheus monitoring\/kube-prometheus-stack-prometheus in biz1 runs 1 replica\(s\), fleet.yaml says 2: kubectl --context kind-biz1 -n monitoring patch prometheus kube-prometheus-stack-prometheus --type merge -p '\{"spec":\{"replicas":2\}\}'/,
        );
        assert.match(
          e.message,
          /Service monitoring\/thanos-sidecar-1 in biz2 is still cut off: kubectl --context kind-biz2 -n monitoring patch service thanos-sidecar-1 --type json -p '\[\{"op":"remove","path":"\/spec\/selector\/thanos-fleet.io~1drill-cut-off"\}\]'/,
        );
        assert.match(
          e.message,
          /StatefulSet monitoring\/thanos-ruler in mgmt runs 1 replica\(s\) of 2: run 'thanos-fleet up'/,
        );
        return true;
      });
    } finally {
      await biz1.mergePatch(prom, { spec: { replicas: 2 } });
      await biz2.mergePatch(svc, { spec: { selector: { [CUT_OFF_KEY]: null } } });
      await api("kind-mgmt").mergePatch(
        { apiVersion: "apps/v1", kind: "StatefulSet", namespace: NS, name: "thanos-ruler" },
        { spec: { replicas: 2 } },
      );
    }
    await (await faults()).check();
  });
});

describe("receive drill faults on Kubernetes (biz2 on receive)", () => {
  const topology = receiveTopology();
  let h: Harness;
  const api = (context: string) => h.world.apis.get(context) as FakeKubeApi;
  const byId = (id: string) => scenarios(topology).find((s) => s.id === id) as Scenario;
  const faults = async (signal = new AbortController().signal): Promise<Faults> =>
    kubeFaults({ topology, ...(await h.runtime.faultTarget(topology, { stateDir: h.stateDir })), signal });
  const ingester = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    namespace: NS,
    name: "thanos-receive-ingester",
  };

  before(async () => {
    h = await harness(topology);
    await h.up();
    for (const a of h.world.apis.values()) new Controllers(a);
  });
  after(() => h.cleanup());

  it("a whole receive fleet passes the check, and the ingesters roll with minReadySeconds", async () => {
    await (await faults()).check();
    const sts = await api("kind-mgmt").get(ingester);
    assert.equal((sts?.spec as { minReadySeconds?: number }).minReadySeconds, 40);
  });

  const expected: Record<string, { hold: (string | RegExp)[]; lift: string[]; broken: (string | RegExp)[] }> =
    {
      ingester: {
        hold: [
          'kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-receive-ingester {"spec":{"replicas":2}}',
        ],
        lift: [
          'kind-mgmt: patch apps/v1 StatefulSet monitoring/thanos-receive-ingester {"spec":{"replicas":3}}',
        ],
        broken: ["mgmt/thanos-receive-ingester-2"],
      },
      router: {
        hold: [
          'kind-mgmt: patch apps/v1 Deployment monitoring/thanos-receive-router {"spec":{"replicas":1}}',
        ],
        lift: [
          'kind-mgmt: patch apps/v1 Deployment monitoring/thanos-receive-router {"spec":{"replicas":2}}',
        ],
        broken: [/^mgmt\/thanos-receive-router-7f9c-\d+$/],
      },
      // The exposed Service alone: the routers stay reachable inside mgmt (the ruler, verify through the pod proxy).
      "receive-cut-off": {
        hold: [
          `kind-mgmt: patch v1 Service monitoring/thanos-receive-router-exposed {"spec":{"selector":{"${CUT_OFF_KEY}":"true"}}}`,
          /^kind-mgmt: delete v1 Pod monitoring\/thanos-receive-router-7f9c-\d+ → deleted$/,
          /^kind-mgmt: delete v1 Pod monitoring\/thanos-receive-router-7f9c-\d+ → deleted$/,
        ],
        lift: [
          `kind-mgmt: patch v1 Service monitoring/thanos-receive-router-exposed {"spec":{"selector":{"${CUT_OFF_KEY}":null}}}`,
        ],
        broken: [/^mgmt\/thanos-receive-router-7f9c-\d+$/, /^mgmt\/thanos-receive-router-7f9c-\d+$/],
      },
    };

  const matchAll = (got: string[], want: (string | RegExp)[]) => {
    assert.equal(got.length, want.length, got.join("\n"));
    want.forEach((w, i) => {
      if (typeof w === "string") assert.equal(got[i], w);
      else assert.match(got[i] ?? "", w);
    });
  };

  for (const [id, want] of Object.entries(expected)) {
    it(`${id}: the fault and its lift write exactly these, and lifting brings back what was there`, async () => {
      const snapshot = () =>
        JSON.stringify(
          [...api("kind-mgmt").objects.values()]
            .map((x) => x.obj)
            .filter((o) => ["StatefulSet", "Deployment", "Service"].includes(o.kind))
            .map((o) => [o.kind, o.metadata.name, o.spec]),
        );
      const before = snapshot();
      const mark = h.world.recorder.mark();
      const fault = await (await faults()).inject(byId(id));
      matchAll(writes(h, mark), want.hold);
      matchAll(
        fault.brokenPods.map((p) => `${p.cluster}/${p.pod}`),
        want.broken,
      );
      const liftMark = h.world.recorder.mark();
      await fault.lift();
      assert.deepEqual(writes(h, liftMark), want.lift);
      assert.equal(snapshot(), before, "replicas and selectors as they were");
      await (await faults()).check();
    });
  }

  it("receive-cut-off: the routers restarted are new pods, and a fleet left cut off is refused", async () => {
    const fault = await (await faults()).inject(byId("receive-cut-off"));
    assert.match(
      fault.what,
      /thanos-receive-router-exposed in mgmt select no pod \(receive-router unreachable/,
    );
    assert.deepEqual(
      fault.removedPods?.map((p) => p.pod),
      fault.brokenPods.map((p) => p.pod),
    );
    await assert.rejects(
      (await faults()).check(),
      /Service monitoring\/thanos-receive-router-exposed in mgmt is still cut off: kubectl --context kind-mgmt -n monitoring patch service thanos-receive-router-exposed/,
    );
    await fault.lift();
    await (await faults()).check();
  });

  it("ingester-rollout: a new pod template revision; every ingester is replaced, highest ordinal first", async () => {
    const mgmt = api("kind-mgmt");
    const uids = () =>
      podNames(mgmt, "thanos-receive-ingester-").map((n) =>
        String([...mgmt.objects.values()].find((x) => x.obj.metadata.name === n)?.obj.metadata.uid),
      );
    const before = uids();
    const mark = h.world.recorder.mark();
    const fault = await (await faults()).inject(byId("ingester-rollout"));
    matchAll(writes(h, mark), [
      /^kind-mgmt: patch apps\/v1 StatefulSet monitoring\/thanos-receive-ingester \{"spec":\{"template":\{"metadata":\{"annotations":\{"kubectl.kubernetes.io\/restartedAt":"[0-9T:.Z-]+"\}\}\}\}\}$/,
    ]);
    assert.match(
      fault.what,
      /replaces thanos-receive-ingester-0, thanos-receive-ingester-1, thanos-receive-ingester-2 one at a time, minReadySeconds 40/,
    );
    assert.deepEqual(
      fault.brokenPods.map((p) => p.pod),
      ["thanos-receive-ingester-2", "thanos-receive-ingester-1", "thanos-receive-ingester-0"],
    );
    const done = await fault.course;
    assert.match(
      done ?? "",
      /^thanos-receive-ingester-2 ready again \d+ s after the start; thanos-receive-ingester-1 .*; thanos-receive-ingester-0 /,
    );
    const liftMark = h.world.recorder.mark();
    await fault.lift();
    assert.deepEqual(writes(h, liftMark), []);
    const after = uids();
    assert.equal(after.length, 3);
    assert.ok(
      after.every((u) => !before.includes(u)),
      "every ingester is a new pod",
    );
    await (await faults()).check();
  });

  it("ingester-rollout: a StatefulSet that never finishes its rollout fails the course, naming it", async () => {
    const mgmt = api("kind-mgmt");
    const original = mgmt.mergePatch.bind(mgmt);
    // The pods are replaced, but the controller never reports the new revision current.
    mgmt.mergePatch = async (ref, p) => {
      const out = await original(ref, p);
      const sts = [...mgmt.objects.values()].find(
        (x) => x.obj.kind === "StatefulSet" && x.obj.metadata.name === ingester.name,
      );
      if (sts) sts.obj.status = { currentRevision: "old", updateRevision: "new" };
      return out;
    };
    try {
      const f = kubeFaults({
        topology,
        ...(await h.runtime.faultTarget(topology, { stateDir: h.stateDir })),
        signal: new AbortController().signal,
        clock: fakeClock(),
        timeoutMs: 10_000,
      });
      const fault = await f.inject(byId("ingester-rollout"));
      await assert.rejects(
        fault.course as Promise<string>,
        (e: Error) =>
          e instanceof WaitTimeoutError &&
          /every pod of StatefulSet monitoring\/thanos-receive-ingester in mgmt to be replaced/.test(
            e.message,
          ),
      );
      await fault.lift();
    } finally {
      mgmt.mergePatch = original;
    }
  });
});

describe("thanos-fleet drill on the Kubernetes runtime", () => {
  it("runs instead of refusing: it checks the fleet first and breaks nothing on a fleet left short", async () => {
    const topology = defaultTopology();
    const h = await harness(topology);
    try {
      await h.up();
      const mgmt = h.world.apis.get("kind-mgmt") as FakeKubeApi;
      const ruler = { apiVersion: "apps/v1", kind: "StatefulSet", namespace: NS, name: "thanos-ruler" };
      await mgmt.mergePatch(ruler, { spec: { replicas: 1 } });
      const mark = h.world.recorder.mark();
      await assert.rejects(
        drillCommand(h.runtime, topology, {
          stateDir: h.stateDir,
          json: true,
          scenarios: ["store-gateway"],
          signal: new AbortController().signal,
        }),
        /the fleet is not whole[\s\S]*thanos-ruler in mgmt runs 1 replica\(s\) of 2/,
      );
      assert.deepEqual(writes(h, mark), []);
    } finally {
      await h.cleanup();
    }
  });
});

describe("cert-rotation on Kubernetes: certs rotate during continuous queries, no pod restarted", () => {
  const topology = defaultTopology();
  const fleet = render(topology);
  /** Pods by cluster, as a list of the namespace answers them; `restart` bumps one's restart count. */
  const world = (restart?: string) => {
    let after = false;
    const pods = (cluster: string) =>
      ["thanos-query-0", "thanos-query-1", "kube-prometheus-stack-grafana-7c9f-x2x"].map((name) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NS, uid: `${cluster}-${name}` },
        status: { containerStatuses: [{ restartCount: after && `${cluster}/${name}` === restart ? 1 : 0 }] },
      }));
    return {
      api: (context: string) =>
        ({ list: async () => pods(context.replace(/^kind-/, "")) }) as unknown as FakeKubeApi,
      later: () => {
        after = true;
      },
    };
  };
  const report = (presented: boolean) => ({
    renewed: [{ name: "kube@mgmt/thanos-query", serialBefore: "01", serialAfter: "02" }],
    clients: [
      { name: "grpc-client", serialBefore: "0A", serialAfter: "0B", notAfter: "2027-03-07T21:00:00.000Z" },
      { name: "http-client", serialBefore: "0C", serialAfter: "0D", notAfter: "2027-03-07T21:00:00.000Z" },
    ],
    storage: [
      { name: "s3-server", serialBefore: "0E", serialAfter: "0F", notAfter: "2027-03-07T21:00:00.000Z" },
    ],
    renewedObjects: ["mgmt/ConfigMap/thanos-query-config", "biz1/Secret/thanos-fleet-http-tls"],
    renewedObjectsDeferred: ["mgmt/ConfigMap/thanos-query-frontend-config"],
    grafanaRestarted: ["biz1"],
    secrets: ["mgmt/thanos-query-tls"],
    pods: [
      {
        server: "kube@mgmt/thanos-query",
        pod: "mgmt/thanos-query-0:10902",
        presented: true,
        afterMs: 60_000,
      },
      { server: "kube@mgmt/thanos-query", pod: "mgmt/thanos-query-1:10902", presented, afterMs: 75_000 },
    ],
    running: true,
    ms: 80_000,
  });
  const scenario = () => {
    const s = scenarios(topology, { runtime: "kubernetes" }).find((x) => x.id === "cert-rotation");
    assert.ok(s, "the cert-rotation scenario runs on Kubernetes");
    assert.equal(s.continuousQueries, true, "queries run continuously through it");
    return s;
  };

  it("passes when every server pod presents its new certificate and none restarted", async () => {
    const w = world();
    const faults = kubeFaults({
      topology,
      fleet,
      api: w.api,
      signal: new AbortController().signal,
      rotateCerts: async () => report(true),
    });
    const fault = await faults.inject(scenario());
    assert.match(
      fault.what,
      /renewed 1 server certificates, 2 client certificates and 1 of the storage cluster, wrote 1 Secrets in place \(and 2 objects holding a client or storage certificate\); 2\/2 server pods presented the new one, the last after 75 s/,
    );
    assert.deepEqual(fault.brokenPods, []);
    w.later();
    const checked = await fault.check?.();
    assert.equal(checked?.ok, true, checked?.detail);
    assert.match(checked?.detail ?? "", /2\/2 pods present the new certificate .*none of \d+ pods restarted/);
  });

  it("Grafana restarted on purpose for its client certificate is no failure; a rotation without client certificates is", async () => {
    const w = world("biz1/kube-prometheus-stack-grafana-7c9f-x2x");
    const fault = await kubeFaults({
      topology,
      fleet,
      api: w.api,
      signal: new AbortController().signal,
      rotateCerts: async () => report(true),
    }).inject(scenario());
    w.later();
    const checked = await fault.check?.();
    assert.equal(checked?.ok, true, checked?.detail);
    assert.match(
      checked?.detail ?? "",
      /2 client certificates renewed \(grpc-client, http-client\), Grafana restarted in biz1/,
    );
    const w2 = world();
    const noClients = await kubeFaults({
      topology,
      fleet,
      api: w2.api,
      signal: new AbortController().signal,
      rotateCerts: async () => ({ ...report(true), clients: [], grafanaRestarted: [] }),
    }).inject(scenario());
    w2.later();
    assert.equal((await noClients.check?.())?.ok, false);
  });

  it("fails naming a pod that still presents the old certificate, or one that restarted", async () => {
    for (const [w, presented, why] of [
      [world(), false, /still the old or none: mgmt\/thanos-query-1:10902/],
      [world("mgmt/thanos-query-0"), true, /made again or restarted: mgmt\/thanos-query-0/],
    ] as const) {
      const fault = await kubeFaults({
        topology,
        fleet,
        api: w.api,
        signal: new AbortController().signal,
        rotateCerts: async () => report(presented),
      }).inject(scenario());
      w.later();
      const checked = await fault.check?.();
      assert.equal(checked?.ok, false);
      assert.match(checked?.detail ?? "", why);
    }
  });
});
