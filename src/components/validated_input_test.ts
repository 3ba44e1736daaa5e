// What fleet.yaml validation refuses is what the real Thanos refuses: each class of value is run through the binary
// (the compactor's retention flags, the ruler's rules check), accepted values and refused ones alike.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isExecutableFile } from "../binaries/cache.ts";
import { binaryPath } from "../binaries/resolve.ts";
import { ConfigError } from "../topology/errors.ts";
import { parseFleet } from "../topology/load.ts";
import { fleetRules } from "./thanos/rule.ts";

const thanos = binaryPath("thanos");
const skip = isExecutableFile(thanos)
  ? false
  : `thanos not built at ${thanos}: run npm run binaries -- thanos`;
const dir = await mkdtemp(join(tmpdir(), "fleet-validated-"));
after(() => rm(dir, { recursive: true, force: true }));

const CLUSTERS = [
  { name: "mgmt", role: "observer" },
  { name: "biz1", role: "workload" },
  { name: "minio", role: "storage" },
];

function accepted(fleet: Record<string, unknown>): boolean {
  try {
    parseFleet({ ...fleet, clusters: (fleet.clusters as unknown[]) ?? CLUSTERS }, "fleet.yaml");
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

describe("the compactor's retention", { skip }, () => {
  const bucket = join(dir, "bucket.yml");
  const cases: [string, string][] = [
    ["39h", "10d"],
    ["40h", "10d"],
    ["0d", "10d"],
    ["40h", "9d"],
    ["30d", "0d"],
    ["1d", "90d"],
  ];
  for (const [raw, fiveMinutes] of cases) {
    test(`raw ${raw}, 5m ${fiveMinutes}: fleet.yaml accepts it exactly when the compactor starts with it`, async () => {
      await writeFile(bucket, `type: FILESYSTEM\nconfig:\n  directory: ${join(dir, "objects")}\n`);
      const ok = accepted({ retention: { raw, fiveMinutes, oneHour: "1y" } });
      // Without --wait the compactor runs once over the (empty) bucket and exits 0; a refused flag exits 1 at once.
      const r = spawnSync(
        thanos,
        [
          "compact",
          `--data-dir=${join(dir, "data")}`,
          `--objstore.config-file=${bucket}`,
          "--http-address=127.0.0.1:0",
          `--retention.resolution-raw=${raw}`,
          `--retention.resolution-5m=${fiveMinutes}`,
          "--retention.resolution-1h=1y",
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(
        r.status === 0,
        ok,
        `fleet.yaml ${ok ? "accepts" : "refuses"} it; thanos compact: ${r.status} ${r.stderr.slice(0, 300)}`,
      );
    });
  }
});

describe("external label values in the ruler's alert labels", { skip }, () => {
  // Each value: whether thanos tools rules-check passes the fleet's rules with it. "a{{.}}" passes, but the ruler
  // would expand it into another value: fleet.yaml refuses every value holding "{{".
  const values: [string, boolean][] = [
    ["{{ broken", false],
    ["{{", false],
    ["a{{.}}", true],
    ["plain", true],
    ["a}}b", true],
    ["$cost", true],
    ['say "hi"', true],
    ["back\\slash", true],
    ["café ✓", true],
  ];
  for (const [value, checks] of values) {
    test(`${JSON.stringify(value)}: rules-check ${checks ? "passes" : "fails"}; fleet.yaml ${value.includes("{{") ? "refuses" : "accepts"} it`, async () => {
      const fleet = {
        clusters: [CLUSTERS[0], { ...CLUSTERS[1], externalLabels: { region: value } }, CLUSTERS[2]],
      };
      assert.equal(accepted(fleet), !value.includes("{{"));
      // The rules as the ruler would get them, validation aside: the label set into the parsed topology.
      const topology = parseFleet({ clusters: CLUSTERS }, "fleet.yaml");
      const workload = topology.workloads[0];
      assert.ok(workload);
      workload.labels = { ...workload.labels, region: value };
      const file = join(dir, "rules.yaml");
      await writeFile(file, fleetRules({ topology, blockDuration: "2h" }));
      const r = spawnSync(thanos, ["tools", "rules-check", `--rules=${file}`], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status === 0, checks, `rules-check: ${r.status} ${r.stderr.slice(-300)}`);
    });
  }
});

describe("the bucket sync interval", { skip }, () => {
  test("0s is refused by fleet.yaml: the real store gateway panics on it", async () => {
    assert.equal(accepted({ blocks: { syncInterval: "0s" } }), false);
    assert.equal(accepted({ blocks: { syncInterval: "1s" } }), true);
    const bucket = join(dir, "sync-bucket.yml");
    await writeFile(bucket, `type: FILESYSTEM\nconfig:\n  directory: ${join(dir, "sync-objects")}\n`);
    // It exits by itself once its first sync starts the ticker; the timeout only bounds a hang.
    const r = spawnSync(
      thanos,
      [
        "store",
        `--data-dir=${join(dir, "store")}`,
        `--objstore.config-file=${bucket}`,
        "--sync-block-duration=0s",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /non-positive interval for NewTicker/);
  });
});
