import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DurationError, formatDuration, isDuration, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  const good: [string, number][] = [
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    [" 2m ", 120_000],
  ];
  for (const [text, ms] of good)
    it(`${JSON.stringify(text)} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));

  for (const bad of ["", "5", "5 m", "m5", "-1s", "1.5h", "5min", "forever"]) {
    it(`${JSON.stringify(bad)} is a usage error (exit 2) naming the value`, () => {
      assert.throws(
        () => parseDuration(bad, "--wait"),
        (e: unknown) =>
          e instanceof DurationError &&
          e.exitCode === 2 &&
          e.message.includes(`--wait '${bad}'`) &&
          e.message.includes("5m"),
      );
    });
  }
});

describe("formatDuration", () => {
  const cases: [number, string][] = [
    [45_000, "45s"],
    [5 * 60_000, "5m"],
    [2 * 3_600_000, "2h"],
    [3 * 3_600_000 + 15 * 60_000, "3h15m"],
  ];
  for (const [ms, text] of cases) it(`${ms} ms reads ${text}`, () => assert.equal(formatDuration(ms), text));
});

describe("isDuration", () => {
  it("accepts Prometheus's units, weeks and years included", () => {
    for (const text of ["15s", "2h", "30d", "2w", "1y", "1h30m", "250ms"]) assert.ok(isDuration(text), text);
    assert.equal(parseDuration("2w"), 14 * 86_400_000);
    assert.equal(parseDuration("1y"), 365 * 86_400_000);
  });
  it("refuses what Prometheus refuses", () => {
    for (const text of ["", "5", "1.5h", "5 m", "5min", "-1s", "1h1h", "30m1h", "5s1m"])
      assert.ok(!isDuration(text), text);
  });
});
