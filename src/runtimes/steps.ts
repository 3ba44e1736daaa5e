// `up` as an ordered list of small steps, the same way on both runtimes (kind's Actions): each step decides its title
// when its turn comes, is reported on one status line with its duration, and the runtime's state is saved after it.
import type { Reporter } from "./runtime.ts";

/** What the runner needs of a runtime's context: where to report, when to stop, how to save the state. */
export interface StepContext {
  reporter: Reporter;
  signal: AbortSignal;
  /** Writes the runtime's state if it changed since the last write. */
  persist(): Promise<void>;
}

/** One step: its title is decided when it is its turn (undefined: nothing to do, not reported). */
export interface Step<C extends StepContext> {
  title(ctx: C): string | undefined;
  execute(ctx: C): Promise<void>;
}

/** A step failed: names the step; the cause carries the command or API call and the tail of its output. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`step '${step}' failed`, { cause });
    this.name = "StepError";
  }
}

/** Runs one step: its status line, the state saved after it. */
async function runStep<C extends StepContext>(ctx: C, step: Step<C>): Promise<void> {
  ctx.signal.throwIfAborted();
  const title = step.title(ctx);
  if (!title) return;
  const done = ctx.reporter.step(title);
  try {
    await step.execute(ctx);
    done();
  } catch (error) {
    // The step line gets the first line; the whole story (command, output tail) goes up with the error.
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    done(new Error(first));
    throw new StepError(title, error);
  } finally {
    await ctx.persist();
  }
}

/** Runs the steps in order, one status line each, saving the state after each; stops at the first that fails. */
export async function runSteps<C extends StepContext>(ctx: C, steps: Step<C>[]): Promise<void> {
  for (const step of steps) await runStep(ctx, step);
}

/** A step and the steps it waits for. */
export interface GraphStep<C extends StepContext> {
  step: Step<C>;
  after: readonly Step<C>[];
}

/**
 * Runs each step as soon as the steps it waits for are done, so that steps that do not depend on each other run at
 * the same time; a step waiting for one that is not in the graph does not wait for it. After a failure no step
 * starts; those running are let finish (their state saved), then the first failure is thrown.
 */
export async function runStepGraph<C extends StepContext>(ctx: C, graph: GraphStep<C>[]): Promise<void> {
  const inGraph = new Set(graph.map((g) => g.step));
  const running = new Map<Step<C>, Promise<void>>();
  let failure: { error: unknown } | undefined;
  const start = (g: GraphStep<C>): Promise<void> => {
    let run = running.get(g.step);
    if (!run) {
      const before = graph.filter((d) => g.after.includes(d.step) && inGraph.has(d.step));
      run = Promise.all(before.map(start)).then(async () => {
        if (failure) return;
        try {
          await runStep(ctx, g.step);
        } catch (error) {
          failure ??= { error };
          throw error;
        }
      });
      running.set(g.step, run);
    }
    return run;
  };
  await Promise.allSettled(graph.map(start));
  if (failure) throw failure.error;
}
