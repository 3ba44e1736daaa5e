import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordingReporter } from "../../testing/reporter.ts";
import { runSteps, type Step, type StepContext, StepError } from "./steps.ts";

interface Ctx extends StepContext {
  lines: string[];
  saved: number;
  value: number;
}

function context(signal = new AbortController().signal): Ctx {
  const { lines, reporter } = recordingReporter();
  const ctx: Ctx = {
    lines,
    saved: 0,
    value: 0,
    reporter,
    signal,
    persist: async () => {
      ctx.lines.push(`saved ${ctx.value}`);
      ctx.saved++;
    },
  };
  return ctx;
}

const add = (n: number): Step<Ctx> => ({
  title: () => `add ${n}`,
  execute: async (ctx) => {
    ctx.value += n;
  },
});

describe("runSteps", () => {
  it("runs the steps in order, a status line each, the state saved after each", async () => {
    const ctx = context();
    const skipped: Step<Ctx> = { title: () => undefined, execute: async () => assert.fail("not run") };
    // A title is decided when the step's turn comes: after the steps before it ran.
    const late: Step<Ctx> = { title: (c) => `now at ${c.value}`, execute: async () => {} };
    await runSteps(ctx, [add(1), skipped, add(2), late]);
    assert.deepEqual(ctx.lines, [
      "… add 1",
      "✓ add 1",
      "saved 1",
      "… add 2",
      "✓ add 2",
      "saved 3",
      "… now at 3",
      "✓ now at 3",
      "saved 3",
    ]);
  });

  it("stops at a failed step: its line gets the first line, the error names the step and keeps the cause", async () => {
    const ctx = context();
    const cause = new Error("kubectl apply failed\nthe tail of its output");
    const fails: Step<Ctx> = {
      title: () => "apply",
      execute: async () => {
        throw cause;
      },
    };
    await assert.rejects(runSteps(ctx, [add(1), fails, add(2)]), (e: unknown) => {
      assert.ok(e instanceof StepError);
      assert.equal(e.message, "step 'apply' failed");
      assert.equal(e.step, "apply");
      assert.equal(e.cause, cause);
      return true;
    });
    assert.deepEqual(ctx.lines.slice(3), ["… apply", "✗ apply: kubectl apply failed", "saved 1"]);
    assert.equal(ctx.value, 1);
  });

  it("starts no step once the signal is aborted", async () => {
    const controller = new AbortController();
    const ctx = context(controller.signal);
    const abort: Step<Ctx> = {
      title: () => "interrupt",
      execute: async () => controller.abort(new Error("interrupted")),
    };
    await assert.rejects(runSteps(ctx, [abort, add(5)]), { message: "interrupted" });
    assert.equal(ctx.value, 0);
  });
});
