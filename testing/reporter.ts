// A Reporter that keeps every line as a test would read it on a terminal: `…` when a step starts, ✓ or ✗ when it ends.
import type { Reporter } from "../src/runtimes/runtime.ts";

export function recordingReporter(): { lines: string[]; reporter: Reporter } {
  const lines: string[] = [];
  const reporter: Reporter = {
    step(title) {
      lines.push(`… ${title}`);
      return (error) => lines.push(error ? `✗ ${title}: ${error.message}` : `✓ ${title}`);
    },
    info: (line) => lines.push(line),
    verbose: (line) => lines.push(`  ${line}`),
  };
  return { lines, reporter };
}
