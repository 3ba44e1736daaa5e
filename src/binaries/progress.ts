// Shows what ensureBinaries does: on a terminal a live bar (bytes, rate, ETA) and one rewritten line per build (time
// so far, ETA from that build's last recorded duration); elsewhere plain lines, a download reported at every 10%.

import { type BuildEvent, eta, formatEvent } from "./build.ts";

const BAR_WIDTH = 24;

/** The progress bar line: `[#####-----] 45% 48.2/107.1 MB 12.3 MB/s ETA 5 s`. */
export function progressBar(e: Extract<BuildEvent, { kind: "progress" }>): string {
  const rate = e.elapsedMs > 0 ? (e.bytes * 1000) / e.elapsedMs : 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const speed = `${mb(rate)} MB/s`;
  if (!e.total) return `${e.name} ${e.version} ${mb(e.bytes)} MB ${speed}`;
  const share = Math.min(1, e.bytes / e.total);
  const filled = Math.round(share * BAR_WIDTH);
  const eta = rate > 0 ? `ETA ${Math.ceil((e.total - e.bytes) / rate)} s` : "ETA ?";
  return (
    `${e.name} ${e.version} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ` +
    `${Math.floor(share * 100)}% ${mb(e.bytes)}/${mb(e.total)} MB ${speed} ${eta}`
  );
}

export function progressPrinter(
  out: { write(s: string): unknown } = process.stdout,
  tty: boolean = Boolean(process.stdout.isTTY),
): (e: BuildEvent) => void {
  if (!tty) {
    // The last tenth reported per binary, so that a download prints at most eleven progress lines.
    const tenths = new Map<string, number>();
    return (e) => {
      if (e.kind === "download") tenths.set(e.name, -1);
      if (e.kind === "progress") {
        if (!e.total) return;
        const tenth = Math.floor((e.bytes * 10) / e.total);
        if (tenth <= (tenths.get(e.name) ?? -1)) return;
        tenths.set(e.name, tenth);
      }
      out.write(`${formatEvent(e)}\n`);
    };
  }
  // On a terminal one line shows what runs (a download's bar, each build's time and ETA), rewritten in place at
  // most ten times a second; what ends gets a line of its own.
  const live = new Map<string, string>();
  const draw = () => out.write(`\r\x1b[2K${[...live.values()].join(" · ")}`);
  let lastDraw = 0;
  return (e) => {
    switch (e.kind) {
      case "progress": {
        const now = Date.now();
        live.set(e.name, progressBar(e));
        if (now - lastDraw < 100 && e.bytes !== e.total) return;
        lastDraw = now;
        draw();
        return;
      }
      case "heartbeat":
        live.set(e.name, `building ${e.name} ${e.version} … ${e.seconds} s${eta(e.seconds, e.expected)}`);
        draw();
        return;
      case "start":
        live.set(e.name, formatEvent(e));
        draw();
        return;
      default:
        live.delete(e.name);
        out.write(`\r\x1b[2K${formatEvent(e)}\n`);
        if (live.size > 0) draw();
    }
  };
}
