import assert from "node:assert/strict";
import { test } from "node:test";
import type { BlockMeta } from "../probe.ts";
import { overlaps } from "./objstore.ts";

const raw = (ulid: string, minute: number, minutes: number, labels: Record<string, string>): BlockMeta => ({
  ulid,
  minTime: minute * 60_000,
  maxTime: (minute + minutes) * 60_000,
  labels,
  level: 1,
  resolution: 0,
  uploadedAt: 0,
});

test("overlapping raw blocks of one sidecar's labels are two producers; an ingester's own overlap is its shutdown flush", () => {
  const replica = { cluster: "biz1", prometheus_replica: "prometheus-kube-prometheus-stack-prometheus-0" };
  assert.deepEqual(overlaps([raw("A", 0, 2, replica), raw("B", 1, 2, replica)]), [
    {
      labels: '{cluster="biz1",prometheus_replica="prometheus-kube-prometheus-stack-prometheus-0"}',
      a: "A",
      b: "B",
    },
  ]);
  assert.deepEqual(overlaps([raw("A", 0, 2, replica), raw("B", 2, 2, replica)]), []);
  // Thanos v0.42.4: the periodic head compaction's block (33-34) and the shutdown flush's (33-35) of one ingester.
  const ingester = { receive_replica: "thanos-receive-ingester-2", tenant_id: "biz2" };
  assert.deepEqual(overlaps([raw("C", 33, 1, ingester), raw("D", 33, 2, ingester)]), []);
});
