// The compactor deduplicates each workload's HA pair offline, with the merge Thanos documents for Prometheus replicas.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { resolveBinary } from "../../binaries/resolve.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import type { SpecContext } from "../context.ts";
import { TEST_ADDRESSES, TEST_CREDENTIALS, testContext } from "../testdata/spec.ts";
import { compactor, DEDUP_REPLICA_LABEL } from "./compact.ts";
import { prometheusLabels } from "./sidecar.ts";

const _creds = TEST_CREDENTIALS;
const _addresses = TEST_ADDRESSES;
const topology = parseFleet(DEFAULT_FLEET, "test");
const ctx: SpecContext = testContext(topology, { demoScript: "demo.js" });
const args = compactor(topology, ctx).pods.flatMap((p) => p.containers.flatMap((c) => c.args));

test("the compactor ignores the HA replica label and merges with penalty, the label the sidecars set", () => {
  assert.ok(args.includes(`--deduplication.replica-label=${DEDUP_REPLICA_LABEL}`), args.join(" "));
  assert.ok(args.includes("--deduplication.func=penalty"), args.join(" "));
  const w = topology.workloads[0];
  assert.ok(w);
  const labels = prometheusLabels(w, w.replicaNames[0] as string);
  assert.ok(DEDUP_REPLICA_LABEL in labels, "the sidecars' external labels carry the replica label");
  const { [DEDUP_REPLICA_LABEL]: _, ...rest } = labels;
  assert.deepEqual(rest, w.labels, "without it, the replicas' labels are one stream: the workload's");
});

test("the pinned thanos compact knows both flags, and penalty as a deduplication function", async () => {
  const thanos = await resolveBinary("thanos");
  const { stdout, stderr } = await promisify(execFile)(thanos, ["compact", "--help"]);
  const help = (stdout + stderr).replace(/\s+/g, " ");
  assert.match(help, /--deduplication\.replica-label=/);
  assert.match(help, /--deduplication\.func=/);
  assert.match(help, /Possible values are: "", "penalty"/);
});
