// tools/tsdbgen, the query benchmark's block writer: its blocks open with promtool, aligned, with the labels and
// the shapes of series (counters that only grow, cumulative histogram buckets) a dashboard's queries expect.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { buildTsdbgen, runTool } from "../../bench/query/history.ts";
import { isExecutableFile } from "../../src/binaries/cache.ts";
import { binaryPath } from "../../src/binaries/resolve.ts";
import { tempDir } from "../tempdir.ts";

const promtool = binaryPath("promtool");
const skip = isExecutableFile(promtool)
  ? false
  : `promtool not built at ${promtool}: run npm run binaries -- promtool`;

const HOUR = 3_600_000;

interface Sample {
  labels: Record<string, string>;
  value: number;
  t: number;
}

/** promtool tsdb dump's lines: `{a="b", …} value timestamp`. */
function parseDump(text: string): Sample[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const close = line.lastIndexOf("}");
      const labels = Object.fromEntries(
        [...line.slice(1, close).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      const [value, t] = line.slice(close + 2).split(" ");
      return { labels, value: Number(value), t: Number(t) };
    });
}

test(
  "tsdbgen writes aligned 2 h blocks of counters, gauges and a histogram that promtool reads",
  { skip },
  async () => {
    const generator = await buildTsdbgen();
    const dir = await tempDir("tsdbgen-");
    const start = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR)) + HOUR; // mid-block: aligned down
    const end = start + 3 * HOUR;
    const write = async (seed: number) => {
      const out = join(dir, `r${seed}`);
      const summary = JSON.parse(
        await runTool(generator, [
          `--out=${out}`,
          "--series=40",
          `--start=${start}`,
          `--end=${end}`,
          `--seed=${seed}`,
        ]),
      ) as { series: number; blocks: number; samples: number };
      // promtool opens a TSDB directory, which has a WAL; blocks alone have none.
      await mkdir(join(out, "wal"));
      return { out, summary };
    };
    const [r0, r1] = [await write(0), await write(1)];
    assert.deepEqual(r0.summary, { ...r0.summary, series: 40, blocks: 2 });

    const listing = await runTool(promtool, ["tsdb", "list", r0.out]);
    const blocks = listing.trim().split("\n").slice(1);
    assert.equal(blocks.length, 2, listing);
    assert.match(listing, /2h0m0s/);
    assert.ok(
      blocks.every((b) => /\s40\s/.test(b)),
      `each block holds the 40 series:\n${listing}`,
    );

    const dump = parseDump(await runTool(promtool, ["tsdb", "dump", r0.out]));
    assert.equal(new Set(dump.map((s) => JSON.stringify(s.labels))).size, 40);
    for (const s of dump) {
      for (const l of ["job", "instance", "pod", "namespace"])
        assert.ok(s.labels[l], `${l} on ${JSON.stringify(s.labels)}`);
    }
    // The block boundary is the 2 h mark before start; samples start there (plus the replica's offset).
    const first = Math.min(...dump.map((s) => s.t));
    assert.ok(first >= start - HOUR && first < start - HOUR + 30_000, `first sample at ${first}`);

    const series = new Map<string, Sample[]>();
    for (const s of dump) {
      const key = JSON.stringify(s.labels);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, samples] of series) {
      assert.equal(samples.length, 4 * 120, `${key}: 4 h at 30 s`);
      const name = JSON.parse(key).__name__ as string;
      if (name.endsWith("_total") || name.endsWith("_bucket") || name.endsWith("_count")) {
        samples.sort((a, b) => a.t - b.t);
        for (let i = 1; i < samples.length; i++) {
          assert.ok((samples[i] as Sample).value >= (samples[i - 1] as Sample).value, `${key} only grows`);
        }
      }
    }
    // Histogram buckets are cumulative at each scrape: le=0.1 never above le=+Inf, both counting.
    const at = Math.max(...dump.map((s) => s.t));
    const bucket = (le: string) =>
      dump.find(
        (s) =>
          s.t === at && s.labels.__name__ === "http_request_duration_seconds_bucket" && s.labels.le === le,
      )?.value;
    assert.ok((bucket("0.1") as number) <= (bucket("+Inf") as number));
    assert.ok((bucket("0.1") as number) > 0);

    // A second replica holds the same series, scraped at other instants.
    const dump1 = parseDump(await runTool(promtool, ["tsdb", "dump", r1.out]));
    assert.deepEqual(
      new Set(dump1.map((s) => JSON.stringify(s.labels))),
      new Set(dump.map((s) => JSON.stringify(s.labels))),
    );
    assert.notEqual(Math.min(...dump1.map((s) => s.t)), first);
  },
);
