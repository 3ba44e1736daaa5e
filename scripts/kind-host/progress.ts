// Progress lines for long work: what starts, a heartbeat while it runs, and how long it took.

const HEARTBEAT_MS = 30_000;

export function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

export interface Timing {
  step: string;
  status: "done" | "cached" | "failed";
  ms: number;
}

export const timings: Timing[] = [];

/**
 * Runs one step with a start line, a "still …" line every 30 s and a closing line with its duration.
 * `fn` returns "cached" when there was nothing to do.
 */
export async function step(name: string, fn: () => Promise<"cached" | undefined>): Promise<void> {
  const start = Date.now();
  let announced = false;
  // Cached steps finish at once: print one line for them, not two.
  const announce = setTimeout(() => {
    announced = true;
    console.log(`▸ ${name} …`);
  }, 300);
  const timer = setInterval(
    () => console.log(`  still ${name} (${seconds(Date.now() - start)})`),
    HEARTBEAT_MS,
  );
  try {
    const result = await fn();
    const ms = Date.now() - start;
    const status = result === "cached" ? "cached" : "done";
    timings.push({ step: name, status, ms });
    console.log(
      `${status === "cached" ? "✓" : "✔"} ${name}${status === "cached" ? " (already there)" : ""} ${seconds(ms)}`,
    );
  } catch (err) {
    const ms = Date.now() - start;
    timings.push({ step: name, status: "failed", ms });
    if (!announced) console.log(`▸ ${name} …`);
    console.log(`✗ ${name} failed after ${seconds(ms)}`);
    throw err;
  } finally {
    clearTimeout(announce);
    clearInterval(timer);
  }
}
