import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRecording, replayClient, replayOptions } from "../../testing/verify/replay.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import type { CheckResult, Report } from "./types.ts";
import { settled, verifyFleetUntil } from "./wait.ts";

function report(...checks: Partial<CheckResult>[]): Report {
  const full = checks.map(
    (c, i) => ({ id: `c${i}`, title: "t", status: "pass", detail: "", ...c }) as CheckResult,
  );
  return {
    runtime: "local",
    startedAt: "",
    durationMs: 0,
    ok: true,
    summary: { pass: 0, fail: 0, pending: 0 },
    checks: full,
  };
}

describe("settled", () => {
  const deadline = Date.parse("2026-11-24T03:00:00Z");
  const cases: [string, Report, boolean][] = [
    ["all pass", report({}, {}), true],
    ["a failure", report({}, { status: "fail" }), false],
    ["pending that may resolve any moment", report({ status: "pending" }), false],
    [
      "pending due before the deadline",
      report({ status: "pending", expectedBy: "2026-11-24T02:30:00Z" }),
      false,
    ],
    [
      "pending due only after the deadline: waiting cannot help",
      report({ status: "pending", expectedBy: "2026-11-24T04:00:00Z" }),
      true,
    ],
  ];
  for (const [name, r, want] of cases)
    it(`${name} → ${want}`, () => assert.equal(settled(r, deadline), want));
});

describe("verifyFleetUntil", () => {
  const topology = parseFleet(DEFAULT_FLEET, "default");
  const healthy = readRecording("healthy");
  const broken = readRecording("compactor-stopped");
  const now = new Date(healthy.now);

  it("retries while the fleet fails or has no endpoints yet, and stops once green", async () => {
    const answers = [broken, broken, healthy];
    let attempt = 0;
    const progress: string[] = [];
    const result = await verifyFleetUntil(
      topology,
      async () => {
        attempt++;
        if (attempt === 1) throw new Error("no fleet state yet");
        return healthy.endpoints;
      },
      {
        waitMs: 10_000,
        intervalMs: 1,
        now: () => now,
        skip: ["gaps"],
        // Each attempt sees the next recording: first failures, then the healthy fleet.
        http: (url, req) => replayClient((answers[Math.min(attempt - 2, 2)] ?? healthy).responses)(url, req),
        onProgress: ({ report: r, error }) =>
          progress.push(r ? `fail ${r.summary.fail}` : `error ${(error as Error).message}`),
      },
    );
    assert.equal(result.ok, true);
    assert.equal(attempt, 4);
    assert.deepEqual(progress, ["error no fleet state yet", "fail 1", "fail 1"]);
  });

  it("returns the last report at the deadline", async () => {
    const result = await verifyFleetUntil(topology, broken.endpoints, {
      waitMs: 30,
      intervalMs: 5,
      ...replayOptions(broken),
    });
    assert.equal(result.ok, false);
    assert.equal(result.checks.find((c) => c.id === "compactor")?.status, "fail");
  });

  it("throws the last error when the fleet never answered", async () => {
    await assert.rejects(
      verifyFleetUntil(topology, () => Promise.reject(new Error("no local fleet in /tmp/x")), {
        waitMs: 20,
        intervalMs: 5,
      }),
      /no local fleet in \/tmp\/x/,
    );
  });
});
