import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Recorded, replayClient } from "../../testing/verify/replay.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { blockDurationMs, firstBlockDue, syncIntervalMs } from "./checks/timing.ts";
import { Probe } from "./probe.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const base: FleetEndpoints = {
  runtime: "kubernetes",
  queryFrontend: "http://127.0.0.1:30900",
  objectStore: { url: "http://127.0.0.1:32000", bucket: "thanos", accessKey: "a", secretKey: "s" },
  targets: [
    {
      cluster: "biz1",
      component: "prometheus",
      pod: "prometheus-kube-prometheus-stack-prometheus-0",
      url: "http://p",
    },
    { cluster: "mgmt", component: "store", pod: "thanos-store-0", url: "http://s" },
  ],
};
const flags = (data: Record<string, string>): Recorded => ({
  status: 200,
  body: JSON.stringify({ status: "success", data }),
});

function probe(endpoints: FleetEndpoints, responses: Record<string, Recorded>): Probe {
  return new Probe(topology, endpoints, replayClient(responses), () => new Date());
}

describe("timings", () => {
  it("take what the runtime reports", async () => {
    const p = probe({ ...base, blockDuration: "1m", bucketSyncInterval: "5s" }, {});
    assert.equal(await blockDurationMs(p), 60_000);
    assert.equal(await syncIntervalMs(p), 5_000);
  });
  it("else read Prometheus's and the store gateway's own flags", async () => {
    const p = probe(base, {
      "http://p/api/v1/status/flags": flags({ "storage.tsdb.min-block-duration": "2m" }),
      "http://s/api/v1/status/flags": flags({ "sync-block-duration": "3m" }),
    });
    assert.equal(await blockDurationMs(p), 120_000);
    assert.equal(await syncIntervalMs(p), 180_000);
  });
  it("else assume production's 2h blocks and Thanos's default 15m sync", async () => {
    const p = probe(base, {
      "http://p/api/v1/status/flags": { error: "refused", message: "connection refused" },
      "http://s/api/v1/status/flags": { status: 404, body: "404 page not found" },
    });
    assert.equal(await blockDurationMs(p), 7_200_000);
    assert.equal(await syncIntervalMs(p), 900_000);
  });
  it("expect the first block once the head spans 1.5 blocks, plus a check and an upload", () => {
    assert.equal(firstBlockDue(0, 7_200_000), 3 * 3_600_000 + 120_000);
  });
});
