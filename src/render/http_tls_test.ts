// HTTPS with the fleet's client certificate on Kubernetes (`tls.http`): the objects thanos-fleet applies in mgmt, and
// the kube-prometheus-stack values of the workload clusters, checked against the chart's own CRDs (and, where helm is
// installed, against the objects the chart makes of the values).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet } from "../topology/load.ts";
import { PINNED } from "../versions.ts";
import { HTTP_TLS_MOUNT, HTTP_TLS_SECRET } from "./helm.ts";
import { configs, defaultTopology, FAKE_HTTP_TLS, render } from "./testdata/fixtures.ts";
import type { KubeObject, RenderedCluster } from "./types.ts";

const CHART_DIR =
  process.env.THANOS_FLEET_CHART_DIR ??
  join(homedir(), ".cache", "thanos-fleet", "charts", `kube-prometheus-stack-${PINNED.kubePrometheusStack}`);
const CRD_DIR = join(CHART_DIR, "charts", "crds", "crds");
const HELM = join(homedir(), ".cache", "thanos-fleet", "kind-host", "bin", "helm");
const noChart = existsSync(CRD_DIR) ? false : `the chart is not unpacked at ${CHART_DIR}`;

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  required?: string[];
  additionalProperties?: Schema | boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
};

/** The openAPI schema of a CRD's spec, as the chart ships it. */
function crdSpec(file: string): Schema {
  const crd = parseYaml(readFileSync(join(CRD_DIR, file), "utf8")) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
  };
  const v1 = crd.spec.versions.find((v) => v.name === "v1");
  const spec = v1?.schema.openAPIV3Schema.properties?.spec;
  assert.ok(spec, `${file} has no v1 spec schema`);
  return spec;
}

/** Structural validation as the API server does it for these fields: unknown keys, types, enums, required keys. */
function validate(value: unknown, schema: Schema, path: string): string[] {
  if (schema["x-kubernetes-int-or-string"]) {
    return typeof value === "number" || typeof value === "string" ? [] : [`${path}: not an int or string`];
  }
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") return [`${path}: not a string`];
      if (schema.enum && !schema.enum.includes(value))
        return [`${path}: ${value} not in ${schema.enum.join(", ")}`];
      return [];
    case "integer":
      return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${path}: not a boolean`];
    case "array":
      if (!Array.isArray(value)) return [`${path}: not an array`];
      return schema.items
        ? value.flatMap((v, i) => validate(v, schema.items as Schema, `${path}[${i}]`))
        : [];
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${path}: not an object`];
      const out: string[] = [];
      for (const r of schema.required ?? []) if (!(r in value)) out.push(`${path}.${r}: required`);
      for (const [k, v] of Object.entries(value)) {
        const sub = schema.properties?.[k];
        if (sub) out.push(...validate(v, sub, `${path}.${k}`));
        else if (typeof schema.additionalProperties === "object")
          out.push(...validate(v, schema.additionalProperties, `${path}.${k}`));
        else if (!schema["x-kubernetes-preserve-unknown-fields"] && schema.additionalProperties !== true)
          out.push(`${path}.${k}: unknown field`);
      }
      return out;
    }
    default:
      return [];
  }
}

function values(rc: RenderedCluster) {
  assert.ok(rc.helmValues, `${rc.cluster} has no chart values`);
  return rc.helmValues as {
    prometheus: {
      serviceMonitor?: { selfMonitor: boolean };
      prometheusSpec: Record<string, unknown> & {
        thanos: Record<string, unknown>;
        additionalScrapeConfigs: { job_name: string; scheme?: string; tls_config?: Record<string, string> }[];
      };
    };
    alertmanager: { serviceMonitor?: { selfMonitor: boolean }; alertmanagerSpec: Record<string, unknown> };
  };
}

const workloads = (name: string) => {
  const found = configs().find((c) => c.name === name);
  assert.ok(found);
  return render(found.topology).clusters.filter((c) => c.role === "workload");
};

describe("tls.http on Kubernetes: the chart's values", () => {
  const biz = workloads("default fleet");

  test(
    "against the chart's CRDs: Prometheus's Secrets, Alertmanager's web TLS and probes, the sidecar's args and mounts",
    {
      skip: noChart,
    },
    () => {
      const prometheus = crdSpec("crd-prometheuses.yaml");
      const alertmanager = crdSpec("crd-alertmanagers.yaml");
      for (const rc of biz) {
        const v = values(rc);
        const spec = v.prometheus.prometheusSpec;
        const fields = ["secrets"] as const;
        for (const f of fields) {
          assert.ok(spec[f] !== undefined, `${rc.cluster}: prometheusSpec.${f} is set`);
          assert.deepEqual(validate(spec[f], prometheus.properties?.[f] ?? {}, `prometheusSpec.${f}`), []);
        }
        // The chart rewrites thanos.objectStorageConfig.existingSecret: only what this change adds is checked here (the
        // helm template test below checks the whole object the chart makes).
        const { additionalArgs, volumeMounts } = spec.thanos;
        assert.deepEqual(
          validate(
            { additionalArgs, volumeMounts },
            prometheus.properties?.thanos ?? {},
            "prometheusSpec.thanos",
          ),
          [],
        );
        const am = v.alertmanager.alertmanagerSpec;
        for (const f of ["web", "containers"] as const) {
          assert.ok(am[f] !== undefined, `${rc.cluster}: alertmanagerSpec.${f} is set`);
          assert.deepEqual(validate(am[f], alertmanager.properties?.[f] ?? {}, `alertmanagerSpec.${f}`), []);
        }
      }
    },
  );

  test("the validator refuses what the API server would (it can fail)", { skip: noChart }, () => {
    const prometheus = crdSpec("crd-prometheuses.yaml");
    assert.notDeepEqual(
      validate({ tlsConfig: { clientCA: {} } }, prometheus.properties?.web ?? {}, "web"),
      [],
    );
    assert.notDeepEqual(validate("Signal", prometheus.properties?.reloadStrategy ?? {}, "r"), []);
  });

  test("every Alertmanager asks for the fleet's client certificate, presenting its own from its Secret; Prometheus stays inside", () => {
    for (const rc of biz) {
      const v = values(rc);
      for (const web of [v.alertmanager.alertmanagerSpec.web]) {
        assert.deepEqual(web, {
          tlsConfig: {
            cert: { secret: { name: "alertmanager-tls", key: "tls.crt" } },
            keySecret: { name: "alertmanager-tls", key: "tls.key" },
            client_ca: { secret: { name: HTTP_TLS_SECRET, key: "http-ca.crt" } },
            clientAuthType: "RequireAndVerifyClientCert",
            minVersion: "TLS12",
          },
        });
      }
      // The operator's client config for the sidecar carries no client certificate: Prometheus serves plain HTTP
      // inside its cluster, with no NodePort, and reloads over HTTP as the operator runs it.
      assert.equal(v.prometheus.prometheusSpec.web, undefined);
      assert.equal(v.prometheus.prometheusSpec.reloadStrategy, undefined);
      assert.ok((v.prometheus.prometheusSpec.secrets as string[]).includes(HTTP_TLS_SECRET));
      const services = rc.manifests.filter(
        (o) => o.kind === "Service" && /^prometheus-\d+$/.test(o.metadata.name),
      ) as (KubeObject & { spec: { type: string; ports: { nodePort?: number }[] } })[];
      assert.equal(services.length, 2);
      for (const svc of services) {
        assert.equal(svc.spec.type, "ClusterIP", svc.metadata.name);
        assert.ok(svc.spec.ports.every((p) => p.nodePort === undefined));
      }
    }
  });

  test("the kubelet probes Alertmanager by TCP (it has no client certificate); Prometheus's probes are the operator's", () => {
    for (const rc of biz) {
      const v = values(rc);
      assert.equal(v.prometheus.prometheusSpec.containers, undefined);
      assert.deepEqual(v.alertmanager.alertmanagerSpec.containers, [
        {
          name: "alertmanager",
          readinessProbe: { tcpSocket: { port: 9093 } },
          livenessProbe: { tcpSocket: { port: 9093 } },
        },
      ]);
    }
  });

  test("each sidecar serves HTTPS with the Prometheus pair's own certificate; the operator keeps its client config for Prometheus", () => {
    for (const rc of biz) {
      const thanos = values(rc).prometheus.prometheusSpec.thanos;
      // prometheus-operator v0.93.1 refuses prometheus.http-client-file in additionalArgs: it sets it itself.
      assert.deepEqual(thanos.additionalArgs, [
        { name: "http.config", value: `${HTTP_TLS_MOUNT}/web-config.yaml` },
      ]);
      assert.ok(
        (thanos.volumeMounts as { name: string; mountPath: string }[]).some(
          (m) => m.name === `secret-${HTTP_TLS_SECRET}` && m.mountPath === HTTP_TLS_MOUNT,
        ),
      );
      const secret = rc.secrets.find((s) => s.metadata.name === HTTP_TLS_SECRET) as KubeObject & {
        stringData: Record<string, string>;
      };
      assert.ok(secret, `${rc.cluster} has the ${HTTP_TLS_SECRET} Secret`);
      const web = parseYaml(secret.stringData["web-config.yaml"] ?? "") as {
        tls_server_config: Record<string, string>;
      };
      assert.equal(web.tls_server_config.client_auth_type, "RequireAndVerifyClientCert");
      assert.equal(
        web.tls_server_config.cert_file,
        "/etc/prometheus/secrets/prometheus-kube-prometheus-stack-prometheus-tls/tls.crt",
      );
      assert.ok(
        (thanos.volumeMounts as { name: string; mountPath: string }[]).some(
          (m) =>
            m.name === "secret-prometheus-kube-prometheus-stack-prometheus-tls" &&
            m.mountPath === "/etc/prometheus/secrets/prometheus-kube-prometheus-stack-prometheus-tls",
        ),
      );
      assert.equal(secret.stringData["http-tls.key"], undefined, "no shared server key");
      assert.equal(secret.stringData["http-client.key"], FAKE_HTTP_TLS.clientKey);
    }
  });

  test("every scrape of an HTTPS port and the alerts present the client certificate; self-monitors left out", () => {
    for (const rc of biz) {
      const v = values(rc);
      const jobs = v.prometheus.prometheusSpec.additionalScrapeConfigs;
      const plain = jobs.find((x) => x.job_name === "prometheus");
      assert.equal(plain?.scheme, undefined, "Prometheus is scraped in plain HTTP inside its cluster");
      for (const job of ["thanos-sidecar", "alertmanager", "thanos-compact"]) {
        const j = jobs.find((x) => x.job_name === job);
        assert.ok(j, `${rc.cluster} scrapes ${job}`);
        assert.equal(j.scheme, "https", job);
        assert.equal(j.tls_config?.cert_file, `${HTTP_TLS_MOUNT}/http-client.crt`, job);
      }
      assert.equal(v.alertmanager.alertmanagerSpec.scheme, "https");
      assert.equal(
        (v.alertmanager.alertmanagerSpec.tlsConfig as Record<string, string>).certFile,
        `${HTTP_TLS_MOUNT}/http-client.crt`,
      );
      assert.deepEqual(v.alertmanager.serviceMonitor, { selfMonitor: false });
    }
  });

  test("no key in the values (they end up in the Helm release): only in the Secret", () => {
    for (const rc of biz) {
      const text = JSON.stringify(rc.helmValues);
      for (const secret of [FAKE_HTTP_TLS.key, FAKE_HTTP_TLS.clientKey]) assert.ok(!text.includes(secret));
    }
  });

  test(
    "helm template: the chart makes Prometheus and Alertmanager objects its CRDs accept, with the fleet's TLS",
    {
      skip: noChart || (existsSync(HELM) ? false : `no helm at ${HELM}`),
    },
    () => {
      const rc = biz[0];
      assert.ok(rc);
      const dir = mkdtempSync(join(tmpdir(), "thanos-fleet-helm-"));
      try {
        const file = join(dir, "values.json");
        writeFileSync(file, JSON.stringify(rc.helmValues));
        const out = execFileSync(
          HELM,
          ["template", "kube-prometheus-stack", CHART_DIR, "-n", "monitoring", "-f", file],
          {
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
          },
        );
        const docs = parseAllDocuments(out)
          .map((d) => d.toJS() as KubeObject | null)
          .filter((d): d is KubeObject => d !== null);
        const prometheus = docs.find((d) => d.kind === "Prometheus") as KubeObject & {
          spec: Record<string, unknown>;
        };
        const alertmanager = docs.find((d) => d.kind === "Alertmanager") as KubeObject & {
          spec: Record<string, unknown>;
        };
        assert.deepEqual(validate(prometheus.spec, crdSpec("crd-prometheuses.yaml"), "Prometheus.spec"), []);
        assert.deepEqual(
          validate(alertmanager.spec, crdSpec("crd-alertmanagers.yaml"), "Alertmanager.spec"),
          [],
        );
        assert.equal(prometheus.spec.web, undefined);
        assert.equal(
          (alertmanager.spec.web as { tlsConfig: { clientAuthType: string } }).tlsConfig.clientAuthType,
          "RequireAndVerifyClientCert",
        );
        const alerting = (
          prometheus.spec.alerting as {
            alertmanagers: { scheme: string; tlsConfig: Record<string, string> }[];
          }
        ).alertmanagers[0];
        assert.equal(alerting?.scheme, "https");
        assert.equal(alerting?.tlsConfig.certFile, `${HTTP_TLS_MOUNT}/http-client.crt`);
        const monitors = docs.filter((d) => d.kind === "ServiceMonitor").map((d) => d.metadata.name);
        assert.ok(!monitors.includes("kube-prometheus-stack-alertmanager"), monitors.join(", "));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("tls.http on Kubernetes: the objects applied in mgmt", () => {
  const mgmt = render(defaultTopology()).clusters.find((c) => c.role === "observer");

  type Pod = {
    containers: {
      name: string;
      args: string[];
      readinessProbe: Record<string, unknown>;
      livenessProbe: Record<string, unknown>;
    }[];
  };
  const pods = () =>
    (mgmt?.manifests ?? [])
      .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
      .map((o) => ({ name: o.metadata.name, pod: (o.spec as { template: { spec: Pod } }).template.spec }));

  test("every mgmt server with an HTTP NodePort takes --http.config (or --web.config.file) and is probed by TCP", () => {
    const exposed = [
      "thanos-query-frontend",
      "thanos-query",
      "thanos-bucket-web",
      "thanos-compact",
      "alertmanager",
    ];
    for (const name of exposed) {
      const p = pods().find((x) => x.name === name);
      assert.ok(p, `mgmt runs ${name}`);
      const c = p.pod.containers[0];
      assert.ok(c);
      assert.ok(
        c.args.some((a) => a.startsWith("--http.config=") || a.startsWith("--web.config.file=")),
        `${name} has a web config`,
      );
      assert.ok(
        "tcpSocket" in c.readinessProbe && !("httpGet" in c.readinessProbe),
        `${name} readiness by TCP`,
      );
      assert.ok("tcpSocket" in c.livenessProbe && !("httpGet" in c.livenessProbe), `${name} liveness by TCP`);
    }
  });

  test("servers without a NodePort keep plain HTTP and their HTTP probes (the store gateway, the rulers)", () => {
    for (const name of ["thanos-store", "thanos-ruler"]) {
      const c = pods().find((x) => x.name === name)?.pod.containers[0];
      assert.ok(c, `mgmt runs ${name}`);
      assert.ok(!c.args.some((a) => a.startsWith("--http.config=")), name);
      assert.ok("httpGet" in c.readinessProbe, name);
    }
  });

  test("no projected volume names a path twice (the API server refuses it: query-frontend is server and client)", () => {
    for (const o of mgmt?.manifests ?? []) {
      if (o.kind !== "Deployment" && o.kind !== "StatefulSet") continue;
      const volumes =
        (
          o.spec as {
            template: {
              spec: {
                volumes?: {
                  name: string;
                  projected?: {
                    sources: {
                      configMap?: { items: { path: string }[] };
                      secret?: { items?: { path: string }[] };
                    }[];
                  };
                }[];
              };
            };
          }
        ).template.spec.volumes ?? [];
      for (const v of volumes) {
        const paths = (v.projected?.sources ?? [])
          .flatMap((src) => [...(src.configMap?.items ?? []), ...(src.secret?.items ?? [])])
          .map((i) => i.path);
        assert.equal(
          new Set(paths).size,
          paths.length,
          `${o.metadata.name} volume ${v.name}: ${paths.join(", ")}`,
        );
      }
    }
  });

  test("the server and client keys are in Secrets, never in a ConfigMap", () => {
    for (const o of mgmt?.manifests ?? []) {
      if (o.kind !== "ConfigMap") continue;
      const text = JSON.stringify(o);
      for (const key of [FAKE_HTTP_TLS.key, FAKE_HTTP_TLS.clientKey])
        assert.ok(!text.includes(key), o.metadata.name);
    }
    const inSecrets = JSON.stringify(mgmt?.secrets);
    assert.ok(
      inSecrets.includes("fake-leaf-key kube@mgmt/thanos-query") &&
        inSecrets.includes(FAKE_HTTP_TLS.clientKey),
    );
    assert.ok(!inSecrets.includes(FAKE_HTTP_TLS.key), "no shared server key: each server has its own");
  });
});

describe("tls.http: false on Kubernetes: the guide's plaintext, as before", () => {
  const fleet = render(parseFleet({ ...DEFAULT_FLEET, tls: { http: false } }, DEFAULT_SOURCE));

  test("no HTTP TLS Secret, no web TLS in the values, HTTP probes and plain scrapes", () => {
    for (const rc of fleet.clusters) {
      assert.ok(!rc.secrets.some((s) => s.metadata.name === HTTP_TLS_SECRET), rc.cluster);
      const text = JSON.stringify([rc.manifests, rc.helmValues ?? {}]);
      assert.ok(!text.includes("--http.config") || !text.includes("tls_server_config"), rc.cluster);
      assert.ok(!text.includes("RequireAndVerifyClientCert"), rc.cluster);
      assert.ok(!text.includes(HTTP_TLS_MOUNT), rc.cluster);
    }
    const biz1 = fleet.clusters.find((c) => c.cluster === "biz1");
    assert.ok(biz1);
    const spec = values(biz1).prometheus.prometheusSpec;
    assert.equal(spec.web, undefined);
    assert.equal(spec.containers, undefined);
    assert.ok(
      spec.additionalScrapeConfigs.every((j) => j.scheme === undefined || j.job_name.includes("metrics")),
    );
  });
});
