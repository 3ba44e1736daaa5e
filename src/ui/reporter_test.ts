import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createReporter } from "./reporter.ts";

test("on a terminal, steps that run at once share one spinner line, and each ends on a line of its own", async () => {
  const ci = process.env.CI;
  delete process.env.CI;
  try {
    let text = "";
    const write = (s: string) => {
      text += s;
      return true;
    };
    const stream = { isTTY: true, write } as unknown as NodeJS.WriteStream;
    const CLEAR = "\r\u001b[2K";
    const reporter = createReporter({ stream });
    const storage = reporter.step("s3: seaweedfs");
    const workload = reporter.step("a: prometheus, sidecar");
    for (let i = 0; i < 250 && !text.includes("·"); i++) await sleep(20);
    const live = text.split(CLEAR).find((l) => l.includes("·")) ?? "";
    assert.match(live, /^. s3: seaweedfs \d+\.\ds · a: prometheus, sidecar \d+\.\ds$/);
    storage();
    assert.match(text.split(CLEAR).at(-1) ?? "", /^✓ s3: seaweedfs \(\d+\.\ds\)\n$/);
    workload(new Error("prometheus exited"));
    assert.match(
      text.split(CLEAR).at(-1) ?? "",
      /^✗ a: prometheus, sidecar \(\d+\.\ds\): prometheus exited\n$/,
    );
    const after = text.length;
    await sleep(250);
    assert.equal(text.length, after, "no spinner once no step runs");
  } finally {
    if (ci !== undefined) process.env.CI = ci;
  }
});
