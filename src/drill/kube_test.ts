import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeKubeApi, readyPod } from "../../testing/kube/fake-world.ts";
import { drillCommand } from "../commands/drill.ts";
import type { KubeObject } from "../render/types.ts";
import { defaultTopology, type Harness, harness } from "../runtimes/kube/testdata/fixtures.ts";
import { WaitTimeoutError } from "../runtimes/kube/wait.ts";
import { CUT_OFF_KEY, kubeFaults } from "./kube.ts";
import type { Faults } from "./run.ts";
import { type Scenario, scenarios } from "./scenarios.ts";

const NS = "monitoring";
const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";

/**
 * What the controllers of a cluster do after each write, at once: StatefulSets and Deployments run as many ready pods
 * as their replicas say (the operator's StatefulSet as many as its Prometheus resource says), a deleted pod comes
 * back with a new uid, and each Service's EndpointSlice lists the ready pods its selector matches.
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
        for (const p of pods) {
          const ordinal = Number(p.metadata.name.slice(w.metadata.name.length + 1));
          if (ordinal >= replicas) this.remove(p);
          else p.metadata.labels = { ...p.metadata.labels, [POD_NAME_LABEL]: p.metadata.name };
        }
        for (let i = 0; i < replicas; i++) {
          const name = `${w.metadata.name}-${i}`;
          if (!pods.some((p) => p.metadata.name === name))
            this.api.put(readyPod(name, NS, { ...labels, [POD_NAME_LABEL]: name }, "main"));
        }
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
