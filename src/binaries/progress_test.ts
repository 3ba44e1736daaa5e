import assert from "node:assert/strict";
import { test } from "node:test";
import type { BuildEvent } from "./build.ts";
import { progressBar, progressPrinter } from "./progress.ts";

const total = 100_000_000;
const progress = (bytes: number, elapsedMs: number): BuildEvent => ({
  kind: "progress",
  name: "prometheus",
  version: "v3.14.0",
  bytes,
  total,
  elapsedMs,
});

function capture(tty: boolean) {
  const parts: string[] = [];
  const print = progressPrinter({ write: (s: string) => parts.push(s) }, tty);
  return { print, text: () => parts.join("") };
}

test("without a terminal: a line at each tenth of a download, with size, rate and time left", () => {
  const { print, text } = capture(false);
  print({ kind: "download", name: "prometheus", version: "v3.14.0", url: "http://mirror/p.tar.gz" });
  for (let i = 0; i <= 200; i++) print(progress((total * i) / 200, 10 * i + 1));
  const lines = text().trimEnd().split("\n");
  assert.equal(lines.length, 12);
  assert.equal(lines[0], "downloading prometheus v3.14.0 from http://mirror/p.tar.gz …");
  assert.match(lines[1] ?? "", /^prometheus v3\.14\.0: 0% of 100\.0 MB \(0\.0 MB\/s/);
  assert.match(lines[6] ?? "", /^prometheus v3\.14\.0: 50% of 100\.0 MB \(\d+\.\d MB\/s, \d+ s left\)$/);
  assert.match(lines[11] ?? "", /^prometheus v3\.14\.0: 100% of 100\.0 MB/);
});

test("on a terminal: one bar line redrawn in place with bytes, rate and ETA", () => {
  assert.equal(
    progressBar(progress(total / 4, 5000) as Extract<BuildEvent, { kind: "progress" }>),
    "prometheus v3.14.0 [######------------------] 25% 25.0/100.0 MB 5.0 MB/s ETA 15 s",
  );
  const { print, text } = capture(true);
  print(progress(total / 4, 5000));
  print(progress(total, 8000));
  print({
    kind: "downloaded",
    name: "prometheus",
    version: "v3.14.0",
    seconds: 8,
    path: "/p",
    sha256: "ab".repeat(32),
    trust: "pinned",
  });
  assert.equal(
    text(),
    "\r\x1b[2Kprometheus v3.14.0 [######------------------] 25% 25.0/100.0 MB 5.0 MB/s ETA 15 s" +
      "\r\x1b[2Kprometheus v3.14.0 [########################] 100% 100.0/100.0 MB 12.5 MB/s ETA 0 s" +
      "\r\x1b[2Kprometheus v3.14.0 downloaded, SHA-256 abababababab… verified, in 8 s\n",
  );
});

test("on a terminal: each running build on the live line, with its time and the ETA from its last build", () => {
  const { print, text } = capture(true);
  print({ kind: "start", name: "thanos", version: "v0.42.4", expected: 172 });
  print({ kind: "start", name: "weed", version: "4.53" });
  print({ kind: "heartbeat", name: "thanos", version: "v0.42.4", seconds: 40, expected: 172 });
  print({ kind: "heartbeat", name: "weed", version: "4.53", seconds: 40 });
  print({ kind: "heartbeat", name: "thanos", version: "v0.42.4", seconds: 180, expected: 172 });
  print({ kind: "built", name: "thanos", version: "v0.42.4", seconds: 181, path: "/t" });
  print({ kind: "built", name: "weed", version: "4.53", seconds: 200, path: "/w" });
  assert.equal(
    text(),
    "\r\x1b[2Kbuilding thanos v0.42.4 … (its last build here took 172 s)" +
      "\r\x1b[2Kbuilding thanos v0.42.4 … (its last build here took 172 s) · building weed 4.53 …" +
      "\r\x1b[2Kbuilding thanos v0.42.4 … 40 s, ETA 132 s · building weed 4.53 …" +
      "\r\x1b[2Kbuilding thanos v0.42.4 … 40 s, ETA 132 s · building weed 4.53 … 40 s" +
      "\r\x1b[2Kbuilding thanos v0.42.4 … 180 s, longer than the last build's 172 s · building weed 4.53 … 40 s" +
      "\r\x1b[2Kthanos v0.42.4 built in 181 s\n" +
      "\r\x1b[2Kbuilding weed 4.53 … 40 s" +
      "\r\x1b[2Kweed 4.53 built in 200 s\n",
  );
});
