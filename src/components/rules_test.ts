// The ruler's HA alerts under promtool's rule unit tests: each fires on the failure it names, and not before.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parse, stringify } from "yaml";
import { isExecutableFile } from "../binaries/cache.ts";
import { binaryPath } from "../binaries/resolve.ts";
import { loadTopology } from "../topology/load.ts";
import { fleetRules, HA_ALERTS } from "./thanos/rule.ts";

const promtool = binaryPath("promtool");
const skip = isExecutableFile(promtool)
  ? false
  : `promtool not built at ${promtool}: run npm run binaries -- promtool`;
const dir = await mkdtemp(join(tmpdir(), "fleet-rules-"));
after(() => rm(dir, { recursive: true, force: true }));

const topology = await loadTopology();
/** The rule file as the ruler loads it, minus Thanos's own group field that Prometheus's parser does not know. */
function rulesForPromtool(): string {
  const doc = parse(fleetRules({ topology, blockDuration: "2m" })) as { groups: Record<string, unknown>[] };
  for (const g of doc.groups) delete g.partial_response_strategy;
  return stringify(doc);
}

function summary(alert: string, labels: Record<string, string>): string {
  const doc = parse(fleetRules({ topology, blockDuration: "2m" })) as {
    groups: {
      rules: { alert?: string; labels?: Record<string, string>; annotations?: { summary: string } }[];
    }[];
  };
  const rule = doc.groups
    .flatMap((g) => g.rules)
    .find((r) => r.alert === alert && (!r.labels?.cluster || r.labels.cluster === labels.cluster));
  return (rule?.annotations?.summary ?? "").replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k) => labels[k] ?? "");
}

function expected(alert: string, labels: Record<string, string>) {
  return { exp_labels: labels, exp_annotations: { summary: summary(alert, labels) } };
}

const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`,
  values,
});

const a = { cluster: "biz1", instance: "127.0.1.10:9090" };
const b = { cluster: "biz1", instance: "127.0.1.11:9090" };
const sa = { cluster: "biz1", instance: "127.0.1.10:10902" };
const sb = { cluster: "biz1", instance: "127.0.1.11:10902" };
/** mgmt's compactor as a workload cluster's Prometheus scrapes it: the same instance from every cluster. */
const compactor = (cluster: string) => ({ cluster, instance: "127.0.0.1:30906" });

const tests = [
  {
    name: "a Prometheus replica down: its peer scrapes up == 0; fires after 30 s, only for that replica",
    interval: "15s",
    input_series: [
      series("up", { job: "prometheus", ...a }, "1x20"),
      series("up", { job: "prometheus", ...b }, "1 1 1 1 0x16"),
    ],
    alert_rule_test: [
      { eval_time: "1m15s", alertname: HA_ALERTS.prometheusDown, exp_alerts: [] },
      {
        eval_time: "2m",
        alertname: HA_ALERTS.prometheusDown,
        exp_alerts: [expected(HA_ALERTS.prometheusDown, { severity: "warning", job: "prometheus", ...b })],
      },
    ],
  },
  {
    name: "a sidecar down: the sidecar alert fires, not the Prometheus one",
    interval: "15s",
    input_series: [
      series("up", { job: "prometheus", ...a }, "1x20"),
      series("up", { job: "prometheus", ...b }, "1x20"),
      series("up", { job: "thanos-sidecar", ...sa }, "1 1 1 1 0x16"),
      series("up", { job: "thanos-sidecar", ...sb }, "1x20"),
    ],
    alert_rule_test: [
      {
        eval_time: "2m",
        alertname: HA_ALERTS.sidecarDown,
        exp_alerts: [expected(HA_ALERTS.sidecarDown, { severity: "warning", job: "thanos-sidecar", ...sa })],
      },
      { eval_time: "2m", alertname: HA_ALERTS.prometheusDown, exp_alerts: [] },
    ],
  },
  {
    name: "a workload cluster cut off: no recent sample of it; fires for that cluster only",
    interval: "15s",
    input_series: [
      series("up", { job: "prometheus", ...a }, "1x40"),
      // biz2's last samples at 2m; the store gateway may keep older ones, which do not count.
      series("up", { job: "prometheus", cluster: "biz2", instance: "127.0.2.10:9090" }, "1x8"),
    ],
    alert_rule_test: [
      { eval_time: "2m30s", alertname: HA_ALERTS.clusterMissing, exp_alerts: [] },
      {
        eval_time: "4m",
        alertname: HA_ALERTS.clusterMissing,
        exp_alerts: [expected(HA_ALERTS.clusterMissing, { severity: "critical", cluster: "biz2" })],
      },
    ],
  },
  {
    name: "bucket uploads stalled: no successful upload for 2.5 block lengths and a minute",
    interval: "15s",
    input_series: [
      series("thanos_objstore_bucket_last_successful_upload_time", { job: "thanos-sidecar", ...sa }, "60x40"),
      series("thanos_objstore_bucket_last_successful_upload_time", { job: "thanos-sidecar", ...sb }, "0x40"),
    ],
    alert_rule_test: [
      { eval_time: "6m", alertname: HA_ALERTS.uploadStalled, exp_alerts: [] },
      {
        eval_time: "7m30s",
        alertname: HA_ALERTS.uploadStalled,
        exp_alerts: [
          expected(HA_ALERTS.uploadStalled, { severity: "warning", job: "thanos-sidecar", ...sa }),
        ],
      },
    ],
  },
  {
    name: "the compactor halted: fires once, whichever workload clusters report it",
    interval: "15s",
    input_series: [
      series("thanos_compact_halted", { job: "thanos-compact", ...compactor("biz1") }, "0 0 0 0 1x40"),
      series("thanos_compact_halted", { job: "thanos-compact", ...compactor("biz2") }, "0 0 0 0 1x40"),
    ],
    alert_rule_test: [
      { eval_time: "5m", alertname: HA_ALERTS.compactorHalted, exp_alerts: [] },
      {
        eval_time: "6m30s",
        alertname: HA_ALERTS.compactorHalted,
        exp_alerts: [
          expected(HA_ALERTS.compactorHalted, {
            severity: "warning",
            job: "thanos-compact",
            instance: compactor("biz1").instance,
          }),
        ],
      },
    ],
  },
];

function promtoolTest(file: string): { status: number | null; output: string } {
  const run = spawnSync(promtool, ["test", "rules", file], { cwd: dir, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test("promtool: the HA alerts fire on the failure they name", { skip }, async () => {
  await writeFile(join(dir, "rules.yaml"), rulesForPromtool());
  await writeFile(
    join(dir, "test.yaml"),
    stringify({ rule_files: ["rules.yaml"], evaluation_interval: "15s", tests }),
  );
  const { status, output } = promtoolTest("test.yaml");
  assert.equal(status, 0, output);
  assert.match(output, /SUCCESS/);
});

test("promtool: a wrong expectation fails (the test can fail)", { skip }, async () => {
  await writeFile(join(dir, "rules.yaml"), rulesForPromtool());
  const wrong = structuredClone(tests[0]);
  assert.ok(wrong);
  wrong.alert_rule_test[0] = wrong.alert_rule_test[1] as (typeof wrong.alert_rule_test)[0];
  wrong.alert_rule_test[0] = { ...wrong.alert_rule_test[0], eval_time: "1m15s" };
  await writeFile(
    join(dir, "wrong.yaml"),
    stringify({ rule_files: ["rules.yaml"], evaluation_interval: "15s", tests: [wrong] }),
  );
  const { status, output } = promtoolTest("wrong.yaml");
  assert.notEqual(status, 0, output);
  assert.match(output, new RegExp(HA_ALERTS.prometheusDown));
});
