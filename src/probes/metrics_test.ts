import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metricValue, parseMetrics } from "./metrics.ts";

// Lines as Thanos v0.42.4 serves them.
const TEXT = `# HELP thanos_compact_halted Set to 1 if the compactor halted due to an unexpected error.
# TYPE thanos_compact_halted gauge
thanos_compact_halted 0
thanos_alert_sender_errors_total{alertmanager="127.0.2.9:9093"} 2
thanos_store_nodes_grpc_connections{external_labels="{cluster=\\"biz1\\", prometheus_replica=\\"p-0\\"}",store_type="sidecar"} 2
thanos_objstore_bucket_operation_duration_seconds_bucket{bucket="thanos",operation="get",le="+Inf"} 7
thanos_build_info{branch="v0.42.4",version="0.42.4"} 1
`;

describe("parseMetrics", () => {
  const samples = parseMetrics(TEXT);
  it("reads plain values", () => assert.equal(metricValue(samples, "thanos_compact_halted"), 0));
  it("sums a metric over its series", () =>
    assert.equal(metricValue(samples, "thanos_alert_sender_errors_total"), 2));
  it("unescapes quoted label values", () => {
    const s = samples.find((x) => x.name === "thanos_store_nodes_grpc_connections");
    assert.equal(s?.labels.external_labels, '{cluster="biz1", prometheus_replica="p-0"}');
    assert.equal(s?.labels.store_type, "sidecar");
  });
  it("filters on labels", () =>
    assert.equal(metricValue(samples, "thanos_build_info", { version: "0.42.4" }), 1));
  it("says undefined for an absent metric, not 0", () =>
    assert.equal(metricValue(samples, "thanos_sidecar_prometheus_up"), undefined));
});
