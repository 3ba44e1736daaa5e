// Progress for long work: one line per step with its duration; a spinner on a TTY, plain lines without one.

/** Where long work reports its steps: the CLI's reporter, or a recording one in tests. */
export interface Reporter {
  /** A step starts; the returned function ends it, with an error if it failed. */
  step(title: string): (error?: Error) => void;
  info(line: string): void;
  verbose(line: string): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

export function createReporter(
  opts: { verbose?: boolean; stream?: NodeJS.WriteStream; quiet?: boolean } = {},
): Reporter {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY) && !process.env.CI;
  const write = (line: string) => {
    if (!opts.quiet) out.write(`${line}\n`);
  };
  // Steps may run at the same time: one spinner line shows every running step, each ends on a line of its own.
  const running = new Map<number, { title: string; start: number }>();
  let nextId = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const now = Date.now();
    const titles = [...running.values()].map((r) => `${r.title} ${seconds(now - r.start)}`).join(" · ");
    out.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${titles}`);
  };
  return {
    step(title) {
      const id = nextId++;
      const start = Date.now();
      running.set(id, { title, start });
      if (tty && !timer) {
        timer = setInterval(draw, 100);
        timer.unref();
      }
      if (!tty) write(`… ${title}`);
      return (error) => {
        running.delete(id);
        if (tty) out.write("\r\x1b[2K");
        if (timer && running.size === 0) {
          clearInterval(timer);
          timer = undefined;
        }
        const took = seconds(Date.now() - start);
        write(error ? `✗ ${title} (${took}): ${error.message}` : `✓ ${title} (${took})`);
      };
    },
    info: write,
    verbose(line) {
      if (opts.verbose) write(`  ${line}`);
    },
  };
}

/** Runs fn as one reported step. */
export async function step<T>(reporter: Reporter, title: string, fn: () => Promise<T>): Promise<T> {
  const done = reporter.step(title);
  try {
    const value = await fn();
    done();
    return value;
  } catch (error) {
    done(error as Error);
    throw error;
  }
}
