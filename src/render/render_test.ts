import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, test } from "node:test";
import { z } from "zod";
import { PINNED } from "../versions.ts";
import { fleetFiles } from "./files.ts";
import {
  configs,
  defaultTopology,
  GOLDEN_DIR,
  issuerTopology,
  receiveTopology,
  render,
} from "./testdata/fixtures.ts";
import { validateObject } from "./testdata/validate.ts";
import type { KubeObject, RenderedCluster } from "./types.ts";

function objects(rc: RenderedCluster): KubeObject[] {
  return [...rc.secrets, ...rc.manifests];
}

type PodTemplate = { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };

function templates(rc: RenderedCluster): { owner: KubeObject; template: PodTemplate }[] {
  return rc.manifests
    .filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind))
    .map((owner) => ({ owner, template: (owner.spec as { template: PodTemplate }).template }));
}

/** kind's v1alpha4 Cluster, as far as render uses it: strict, so a misspelt field fails. */
const KindPortMapping = z.strictObject({
  containerPort: z.number().int().min(30000).max(32767),
  hostPort: z.number().int().min(1024).max(65535),
  listenAddress: z.literal("127.0.0.1"),
  protocol: z.literal("TCP"),
});
const KindCluster = z.strictObject({
  kind: z.literal("Cluster"),
  apiVersion: z.literal("kind.x-k8s.io/v1alpha4"),
  name: z.string(),
  networking: z.strictObject({ apiServerAddress: z.literal("127.0.0.1") }),
  nodes: z.tuple([
    z.strictObject({
      role: z.literal("control-plane"),
      image: z.string(),
      extraPortMappings: z.array(KindPortMapping),
    }),
    z.strictObject({ role: z.literal("worker"), image: z.string() }),
  ]),
});

describe("rendered Kubernetes objects", () => {
  for (const { name, topology } of configs()) {
    for (const discovered of [true, false]) {
      const fleet = render(topology, discovered);
      const variant = `${name}${discovered ? "" : " (addresses not discovered yet)"}`;

      test(`${variant}: every object passes the Kubernetes API schema of its kind`, () => {
        const all = fleet.clusters.flatMap(objects);
        assert.ok(all.length > 0);
        for (const obj of all) validateObject(obj);
      });

      test(`${variant}: every name is unique per kind within a cluster`, () => {
        for (const rc of fleet.clusters) {
          const names = objects(rc).map((o) => `${o.kind}/${o.metadata.name}`);
          assert.equal(new Set(names).size, names.length, `${rc.cluster}: ${names.join(" ")}`);
        }
      });

      test(`${variant}: every ConfigMap and Secret a pod mounts or reads is rendered in its cluster`, () => {
        for (const rc of fleet.clusters) {
          const have = new Set(objects(rc).map((o) => `${o.kind}/${o.metadata.name}`));
          // A cert-manager Certificate's Secret is written by cert-manager.
          for (const c of rc.certificates ?? [])
            have.add(`Secret/${(c.spec as { secretName: string }).secretName}`);
          for (const { owner, template } of templates(rc)) {
            const text = JSON.stringify(template.spec);
            const refs = [
              ...[...text.matchAll(/"configMap":\{"name":"([^"]+)"/g)].map((m) => `ConfigMap/${m[1]}`),
              ...[...text.matchAll(/"secret":\{"name":"([^"]+)"/g)].map((m) => `Secret/${m[1]}`),
              ...[...text.matchAll(/"secretKeyRef":\{"name":"([^"]+)"/g)].map((m) => `Secret/${m[1]}`),
            ];
            assert.ok(
              refs.length > 0 || owner.kind === "Deployment",
              `${rc.cluster}/${owner.metadata.name} refers to nothing`,
            );
            for (const ref of refs)
              assert.ok(have.has(ref), `${rc.cluster}/${owner.metadata.name} needs ${ref}, not rendered`);
          }
        }
      });

      test(`${variant}: every Service selects pods that are rendered, or the chart's Prometheus pods`, () => {
        for (const rc of fleet.clusters) {
          const pods = templates(rc).map((t) => t.template.metadata.labels);
          for (const svc of rc.manifests.filter((o) => o.kind === "Service")) {
            const selector = (svc.spec as { selector: Record<string, string> }).selector;
            const matches = (labels: Record<string, string>) =>
              Object.entries(selector).every(([k, v]) => labels[k] === v);
            const chartPrometheus =
              selector["app.kubernetes.io/name"] === "prometheus" &&
              /^prometheus-kube-prometheus-stack-prometheus-\d+$/.test(
                selector["statefulset.kubernetes.io/pod-name"] ?? "",
              );
            assert.ok(
              pods.some(matches) || chartPrometheus,
              `${rc.cluster}/${svc.metadata.name} selects nothing`,
            );
          }
          for (const sts of rc.manifests.filter((o) => o.kind === "StatefulSet")) {
            const serviceName = (sts.spec as { serviceName: string }).serviceName;
            assert.ok(
              rc.manifests.some((o) => o.kind === "Service" && o.metadata.name === serviceName),
              `${rc.cluster}/${sts.metadata.name}: no Service ${serviceName}`,
            );
          }
        }
      });

      test(`${variant}: a pod address is used only under a headless Service of its cluster`, () => {
        let seen = 0;
        for (const rc of fleet.clusters) {
          const headless = new Set(
            rc.manifests
              .filter((o) => o.kind === "Service" && (o.spec as { clusterIP?: string }).clusterIP === "None")
              .map((o) => o.metadata.name),
          );
          for (const m of JSON.stringify(objects(rc)).matchAll(
            /[a-z0-9-]+-\d+\.([a-z0-9-]+)\.monitoring\.svc\.cluster\.local/g,
          )) {
            seen++;
            assert.ok(headless.has(m[1] ?? ""), `${rc.cluster}: ${m[0]} needs a headless Service ${m[1]}`);
          }
        }
        assert.ok(seen > 0, "no pod address at all: the rulers should be dialled one by one");
      });

      test(`${variant}: kind configs are well-formed, pinned, and publish distinct host ports`, () => {
        const hostPorts: number[] = [];
        for (const rc of fleet.clusters) {
          assert.ok(rc.kindConfig, `${rc.cluster} has no kind config`);
          const kind = KindCluster.parse(rc.kindConfig);
          assert.equal(kind.name, rc.cluster);
          for (const node of kind.nodes) assert.equal(node.image, PINNED.kindNodeImage);
          const mappings = kind.nodes[0].extraPortMappings;
          assert.deepEqual(
            mappings.map((m) => [m.containerPort, m.hostPort]),
            rc.hostPorts.map((p) => [p.nodePort, p.hostPort]),
          );
          // Each published NodePort is one a rendered Service (or the chart's Grafana) really opens.
          const nodePorts = new Set(
            rc.manifests
              .filter((o) => o.kind === "Service")
              .flatMap((o) => (o.spec as { ports: { nodePort?: number }[] }).ports.map((p) => p.nodePort)),
          );
          const grafana = (rc.helmValues?.grafana as { service?: { nodePort?: number } } | undefined)?.service
            ?.nodePort;
          for (const m of mappings) {
            assert.ok(
              nodePorts.has(m.containerPort) || m.containerPort === grafana,
              `${rc.cluster}: ${m.containerPort} is opened by nothing`,
            );
          }
          hostPorts.push(...mappings.map((m) => m.hostPort));
        }
        assert.equal(new Set(hostPorts).size, hostPorts.length, `host ports collide: ${hostPorts.join(" ")}`);
      });
    }
  }

  test("an existing cluster (context set) gets no kind config and keeps its context", () => {
    const t = defaultTopology();
    const withContext = {
      ...t,
      fleet: {
        ...t.fleet,
        clusters: t.fleet.clusters.map((c) => (c.name === "biz2" ? { ...c, context: "prod-eu" } : c)),
      },
    };
    const rc = render(withContext).clusters.find((c) => c.cluster === "biz2");
    assert.ok(rc);
    assert.equal(rc.kindConfig, undefined);
    assert.deepEqual(rc.hostPorts, []);
    assert.equal(rc.context, "prod-eu");
  });
});

/** Golden files pin the default fleet's rendered output; `UPDATE_GOLDEN=1 npm test` rewrites them. */
describe("golden files", () => {
  const update = process.env.UPDATE_GOLDEN === "1";

  function listFiles(dir: string): string[] {
    let out: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      out = entry.isDirectory() ? [...out, ...listFiles(path)] : [...out, path];
    }
    return out;
  }

  function checkGolden(dir: string, files: { path: string; content: string }[]) {
    if (update) {
      rmSync(dir, { recursive: true, force: true });
      for (const f of files) {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), f.content);
      }
    }
    const golden = listFiles(dir)
      .map((p) => relative(dir, p).split("\\").join("/"))
      .sort();
    assert.deepEqual(
      files.map((f) => f.path).sort(),
      golden,
      "the set of rendered files changed; review, then UPDATE_GOLDEN=1 npm test",
    );
    for (const f of files) {
      const want = readFileSync(join(dir, f.path), "utf8");
      assert.equal(
        f.content,
        want,
        `${f.path} differs from its golden file; review, then UPDATE_GOLDEN=1 npm test`,
      );
    }
  }

  test("default fleet, with the node addresses kind gives", () => {
    const t = defaultTopology();
    checkGolden(join(GOLDEN_DIR, "default"), fleetFiles(t, render(t), "out"));
  });

  test("biz2 on receive, with the node addresses kind gives", () => {
    const t = receiveTopology();
    checkGolden(join(GOLDEN_DIR, "receive"), fleetFiles(t, render(t), "out"));
  });

  test("servers' certificates from a cert-manager Issuer (biz2 on receive), with the node addresses kind gives", () => {
    const t = issuerTopology();
    checkGolden(join(GOLDEN_DIR, "issuer"), fleetFiles(t, render(t), "out"));
  });

  test("default fleet before discovery: PLAN.md explains the placeholders", () => {
    const t = defaultTopology();
    const files = fleetFiles(t, render(t, false), "out").filter((f) => f.path === "PLAN.md");
    checkGolden(join(GOLDEN_DIR, "default-placeholders"), files);
  });

  test("secrets.yaml files, and only they, are written with mode 0600", () => {
    const t = defaultTopology();
    for (const f of fleetFiles(t, render(t), "out")) {
      assert.equal(f.mode, f.path.endsWith("/secrets.yaml") ? 0o600 : 0o644, f.path);
    }
  });
});
