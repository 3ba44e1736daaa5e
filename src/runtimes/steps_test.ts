import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordingReporter } from "../../testing/reporter.ts";
import { runStepGraph, runSteps, type Step, type StepContext, StepError } from "./steps.ts";

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

describe("runStepGraph", () => {
  /** A step that records when it starts and ends, and ends when told. */
  function gated(name: string, log: string[]) {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const step: Step<Ctx> = {
      title: () => name,
      execute: async () => {
        log.push(`start ${name}`);
        await gate;
        log.push(`end ${name}`);
      },
    };
    return { step, open };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it("starts every step whose steps before it are done, at once; a step waits only for its own", async () => {
    const ctx = context();
    const log: string[] = [];
    const lb = gated("lb", log);
    const storage = gated("storage", log);
    const workload = gated("workload", log);
    const store = gated("store", log);
    const done = runStepGraph(ctx, [
      { step: lb.step, after: [] },
      { step: storage.step, after: [lb.step] },
      { step: workload.step, after: [lb.step] },
      { step: store.step, after: [storage.step] },
    ]);
    await tick();
    assert.deepEqual(log, ["start lb"]);
    lb.open();
    await tick();
    await tick();
    assert.deepEqual(
      log.slice(1),
      ["end lb", "start storage", "start workload"],
      "independent steps at once",
    );
    storage.open();
    await tick();
    await tick();
    assert.deepEqual(log.slice(4), ["end storage", "start store"], "store does not wait for workload");
    store.open();
    workload.open();
    await done;
    assert.equal(ctx.lines.filter((l) => l.startsWith("✓")).length, 4);
  });

  it("a step waiting for one outside the graph starts at once; after a failure nothing starts, the first error is thrown", async () => {
    const ctx = context();
    const outside = add(100);
    const fails: Step<Ctx> = {
      title: () => "storage",
      execute: async () => {
        throw new Error("weed did not become ready");
      },
    };
    const log: string[] = [];
    const slow = gated("workload", log);
    const after: Step<Ctx> = { title: () => "store", execute: async () => assert.fail("must not start") };
    const done = runStepGraph(ctx, [
      { step: fails, after: [outside] },
      { step: slow.step, after: [] },
      { step: after, after: [fails] },
    ]);
    await tick();
    slow.open();
    await assert.rejects(done, (err: Error) => err instanceof StepError && err.step === "storage");
    assert.deepEqual(log, ["start workload", "end workload"], "the running step was let finish");
    assert.ok(ctx.lines.includes("✓ workload"));
  });
});
