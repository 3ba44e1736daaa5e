// Holes in the global view from raw samples: replicas merged, stretches beyond the allowance, what counts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { holesOf, lostScrapeMs, mergeReplicas, type RawSeries, unionHoles, widestGap } from "./gaps.ts";

/** Samples every `step` s from `from` to `to` (inclusive), seconds. */
function every(step: number, from: number, to: number): [number, string][] {
  const out: [number, string][] = [];
  for (let t = from; t <= to; t += step) out.push([t, "1"]);
  return out;
}

const replica = (r: string, values: [number, string][], instance = "a:9090"): RawSeries => ({
  metric: { __name__: "up", job: "prometheus", instance, cluster: "biz1", prometheus_replica: r },
  values,
});

describe("mergeReplicas", () => {
  it("joins the replicas of one series and keeps other series apart", () => {
    const merged = mergeReplicas([
      replica("p-0", [
        [10, "1"],
        [40, "1"],
      ]),
      replica("p-1", [[25, "1"]]),
      replica("p-0", [[10, "1"]], "b:9090"),
    ]);
    assert.equal(merged.length, 2);
    assert.deepEqual(merged[0]?.times, [10_000, 25_000, 40_000]);
    assert.equal(merged[0]?.labels.prometheus_replica, undefined);
  });

  it("joins the receive ingesters' copies too: one ingester down leaves no hole while another holds the samples", () => {
    const copy = (pod: string, ingester: string, values: [number, string][]) => {
      const s = replica(pod, values);
      return { ...s, metric: { ...s.metric, receive_replica: ingester } };
    };
    const merged = mergeReplicas([
      copy("p-0", "ing-0", every(15, 0, 600)),
      copy("p-0", "ing-2", [...every(15, 0, 150), ...every(15, 300, 600)]),
      copy("p-1", "ing-1", every(15, 7, 600)),
    ]);
    assert.equal(merged.length, 1);
    assert.equal(merged[0]?.labels.receive_replica, undefined);
    assert.deepEqual(holesOf(merged[0]?.times ?? [], lostScrapeMs(15_000)), []);
  });

  it("leaves out the series it is told to skip", () => {
    assert.equal(mergeReplicas([replica("p-0", [[1, "1"]])], (l) => l.cluster === "biz1").length, 0);
  });
});

describe("holes", () => {
  const allowed = lostScrapeMs(15_000);

  it("one replica down, the other scraping: no hole", () => {
    const [s] = mergeReplicas([replica("p-0", every(15, 0, 600)), replica("p-1", every(15, 7, 300))]);
    assert.deepEqual(holesOf(s?.times ?? [], allowed), []);
  });

  it("both replicas down for 40 s at once: one hole, from the last sample before to the first after", () => {
    const [s] = mergeReplicas([
      replica("p-0", [...every(15, 0, 300), ...every(15, 345, 600)]),
      replica("p-1", [...every(15, 7, 292), ...every(15, 352, 600)]),
    ]);
    assert.deepEqual(holesOf(s?.times ?? [], allowed), [{ from: 300_000, to: 345_000 }]);
  });

  it("one and a half intervals without a sample lose nothing; longer is a hole", () => {
    assert.deepEqual(holesOf([0, 22_500], allowed), []);
    assert.deepEqual(holesOf([0, 23_500], allowed), [{ from: 0, to: 23_500 }]);
  });

  it("both replicas killed and restarted at once, each missing about 30 s two seconds apart (the issue's case): a hole", () => {
    // Replica 0 samples at 0 and 30 (15 missed), replica 1 at 2 and 32 (17 missed): 28 s with no sample from either.
    const [s] = mergeReplicas([
      replica("p-0", [...every(15, -300, 0), ...every(15, 30, 300)]),
      replica("p-1", [...every(15, -298, 2), ...every(15, 32, 302)]),
    ]);
    assert.deepEqual(holesOf(s?.times ?? [], allowed), [{ from: 2_000, to: 30_000 }]);
  });

  it("holes of several series join where they overlap", () => {
    assert.deepEqual(
      unionHoles([
        { from: 50, to: 90 },
        { from: 10, to: 60 },
        { from: 100, to: 120 },
      ]),
      [
        { from: 10, to: 90 },
        { from: 100, to: 120 },
      ],
    );
  });
});

describe("widestGap (the drill's measure)", () => {
  it("counts the end, and only series that were there before `since`", () => {
    const series = mergeReplicas([
      replica("p-0", [
        [0, "1"],
        [15, "1"],
        [60, "1"],
      ]),
      replica("p-0", [[100, "1"]], "late:9090"),
    ]);
    assert.equal(widestGap(series, 50_000, 70_000), 45_000);
    assert.equal(widestGap(series, 50_000, 130_000), 70_000);
  });
});
