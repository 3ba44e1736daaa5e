import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Recording, readRecording, replayOptions } from "../../testing/verify/replay.ts";
import type { FleetEndpoints } from "../endpoints.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import type { Report } from "../verify/types.ts";
import { verifyCommand } from "./verify.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");

function runtimeWith(endpoints: () => Promise<FleetEndpoints>): Runtime {
  const none = () => Promise.reject(new Error("not used"));
  return { name: "local", up: none, down: none, status: none, endpoints };
}

async function run(rec: Recording, opts: { json?: boolean; wait?: string; skip?: string[] } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } };
  const code = await verifyCommand(
    runtimeWith(async () => rec.endpoints),
    topology,
    { stateDir: "/nonexistent", json: Boolean(opts.json), wait: opts.wait, skip: opts.skip },
    { io, ...replayOptions(rec), intervalMs: 1 },
  );
  return { code, out: out.join(""), err: err.join("") };
}

describe("verifyCommand", () => {
  it("exits 0 on a healthy fleet and prints one row per check", async () => {
    const { code, out } = await run(readRecording("healthy"));
    assert.equal(code, 0);
    assert.match(out, /^CHECK +STATUS +DETAIL\n/);
    for (const id of [
      "stores",
      "duplicates",
      "query",
      "objstore",
      "store-gateway",
      "compactor",
      "ruler",
      "sidecars",
    ]) {
      assert.match(out, new RegExp(`^${id} +pass `, "m"));
    }
    assert.match(out, /ok: 8 pass, 0 fail, 0 pending \(local runtime/);
  });

  it("--skip leaves a failing check out; an unknown check is refused with the list (exit 2)", async () => {
    const failing = await run(readRecording("compactor-stopped"));
    assert.equal(failing.code, 1);
    const skipped = await run(readRecording("compactor-stopped"), { skip: ["compactor"] });
    assert.doesNotMatch(skipped.out, /^compactor /m);
    assert.equal(skipped.code, 0, skipped.out);
    const bad = await run(readRecording("healthy"), { skip: ["compacter"] });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--skip compacter: no such check; the checks are stores, .*compactor/);
  });

  it("exits 0 when checks are only pending", async () => {
    const { code, out } = await run(readRecording("fresh"));
    assert.equal(code, 0);
    assert.match(out, /^objstore +pending +/m);
  });

  it("exits 1 on a failure and prints its cause and fix under it", async () => {
    const { code, out } = await run(readRecording("compactor-stopped"));
    assert.equal(code, 1);
    assert.match(
      out,
      /^compactor +FAIL +thanos-compact-0 unreachable.*\n {4}cause: the compactor is not running.*\n {4}fix: {3}\S/m,
    );
    assert.match(out, /FAILED: 7 pass, 1 fail, 0 pending/);
  });

  it("prints the report as JSON with --json", async () => {
    const { code, out } = await run(readRecording("sidecar-stopped"), { json: true });
    assert.equal(code, 1);
    const report = JSON.parse(out) as Report;
    assert.equal(report.ok, false);
    assert.deepEqual(report.summary, { pass: 3, fail: 5, pending: 0 });
    const stores = report.checks.find((c) => c.id === "stores");
    assert.equal(stores?.status, "fail");
    assert.ok(stores?.cause && stores.fix);
  });

  for (const wait of ["5", "soon", "1.5m", "-30s"]) {
    it(`exits 2 on --wait ${wait}, naming the value`, async () => {
      const { code, err, out } = await run(readRecording("healthy"), { wait });
      assert.equal(code, 2);
      assert.match(err, new RegExp(`--wait '${wait.replace(".", "\\.")}' is not a duration`));
      assert.equal(out, "");
    });
  }

  it("with --wait, reports progress on stderr until the deadline and exits 1 when still failing", async () => {
    const { code, err } = await run(readRecording("compactor-stopped"), { wait: "3s" });
    assert.equal(code, 1);
    assert.match(err, /^verify: 7\/8 pass; waiting for compactor \(\d+s left\)$/m);
    assert.match(err, /^verify: {3}compactor failing: .+$/m);
  });
});
