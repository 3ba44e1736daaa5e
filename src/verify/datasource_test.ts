// With `grafana: false`, verify reads the chart's datasource ConfigMap instead of asking Grafana: its shape here is what
// kube-prometheus-stack 88.5.3's templates/grafana/configmaps-datasources.yaml renders with the fleet's values.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRecording, replayOptions } from "../../testing/verify/replay.ts";
import type { GrafanaDatasourceConfigMap } from "../endpoints.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { verifyFleet } from "./verify.ts";

const topology = parseFleet({ ...DEFAULT_FLEET, grafana: false }, "default");
const QFE = "http://172.18.0.2:30900";

function datasourceYaml(url: string, name = "Thanos"): string {
  return `apiVersion: 1
datasources:
- name: "Prometheus"
  type: prometheus
  uid: prometheus
  url: http://kube-prometheus-stack-prometheus.monitoring:9090/
  access: proxy
  isDefault: true
  jsonData:
    httpMethod: POST
    timeInterval: 15s
- name: "Alertmanager"
  type: alertmanager
  uid: alertmanager
  url: http://kube-prometheus-stack-alertmanager.monitoring:9093/
  access: proxy
  jsonData:
    handleGrafanaManagedAlerts: false
    implementation: prometheus
- access: proxy
  editable: false
  isDefault: false
  jsonData:
    prometheusType: Thanos
    timeInterval: 15s
  name: ${name}
  type: prometheus
  uid: thanos
  url: ${url}
`;
}

const found = (url = QFE, labels: Record<string, string> = { grafana_datasource: "1" }, name?: string) => ({
  labels: { ...labels, app: "kube-prometheus-stack-grafana" },
  datasources: datasourceYaml(url, name),
});

async function check(per: Partial<GrafanaDatasourceConfigMap>[]) {
  const rec = readRecording("healthy");
  const now = new Date(rec.now);
  const endpoints = {
    ...rec.endpoints,
    grafanaDatasources: per.map((p, i) => ({
      cluster: `biz${i + 1}`,
      configMap: "monitoring/kube-prometheus-stack-grafana-datasource",
      expectedUrl: QFE,
      ...p,
    })),
  };
  const report = await verifyFleet(topology, endpoints, { ...replayOptions(rec), now: () => now });
  const result = report.checks.find((c) => c.id === "grafana-datasource");
  assert.ok(result, "the datasource check is reported");
  assert.ok(!report.checks.some((c) => c.id === "grafana"), "no Grafana check without Grafana");
  return result;
}

describe("grafana: false — the Thanos datasource ConfigMap", () => {
  it("passes when each workload cluster's ConfigMap is labelled for Grafana's sidecar and points at query-frontend", async () => {
    const r = await check([{ found: found() }, { found: found() }]);
    assert.equal(r.status, "pass", r.detail);
    assert.match(
      r.detail,
      /biz1, biz2: monitoring\/kube-prometheus-stack-grafana-datasource labelled grafana_datasource=1, datasource Thanos → http:\/\/172\.18\.0\.2:30900/,
    );
  });

  const failures: { name: string; per: Partial<GrafanaDatasourceConfigMap>[]; detail: RegExp }[] = [
    {
      name: "missing",
      per: [{ found: found() }, {}],
      detail: /ConfigMap monitoring\/kube-prometheus-stack-grafana-datasource in biz2 does not exist/,
    },
    {
      name: "not labelled for the sidecar",
      per: [{ found: found(QFE, { grafana_datasource: "0" }) }, { found: found() }],
      detail: /in biz1 lacks the label grafana_datasource: "1"/,
    },
    {
      name: "without the Thanos datasource",
      per: [{ found: found(QFE, undefined, "Other") }, { found: found() }],
      detail: /in biz1 has no datasource named Thanos/,
    },
    {
      name: "pointing at an old address",
      per: [{ found: found() }, { found: found("http://172.18.0.9:30900") }],
      detail:
        /in biz2: datasource Thanos points at http:\/\/172\.18\.0\.9:30900, not http:\/\/172\.18\.0\.2:30900/,
    },
  ];
  for (const f of failures) {
    it(`fails, with a cause and a fix, when it is ${f.name}`, async () => {
      const r = await check(f.per);
      assert.equal(r.status, "fail");
      assert.match(r.detail, f.detail);
      assert.ok(r.cause && r.fix);
    });
  }
});
