import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRecording, replayClient } from "../../testing/verify/replay.ts";
import type { Runtime, UpOptions } from "../runtimes/runtime.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { CLOSING_VERIFY_WAIT_MS, closingVerify, upCommand } from "./up.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");

function closing(name: string) {
  const rec = readRecording(name);
  const verify = closingVerify(100, {
    http: replayClient(rec.responses),
    now: () => new Date(rec.now),
    intervalMs: 1,
  });
  return verify(topology, { endpoints: async () => rec.endpoints, signal: new AbortController().signal });
}

describe("the verify that ends up", () => {
  it("passes a healthy fleet and returns the table", async () => {
    const result = await closing("healthy");
    assert.equal(result.ok, true);
    assert.match(result.text, /^CHECK +STATUS +DETAIL\n/);
    assert.match(result.text, /ok: 8 pass, 0 fail, 0 pending/);
    assert.doesNotMatch(result.text, /pending checks/);
  });

  it("passes a fleet whose checks are only pending, and says how to prove them later", async () => {
    const result = await closing("fresh");
    assert.equal(result.ok, true);
    assert.match(result.text, /^objstore +pending +/m);
    assert.match(result.text, /run 'thanos-fleet verify --wait 5m'\n$/);
  });

  it("fails up when a check still fails at the deadline, with the table in the error", async () => {
    await assert.rejects(closing("compactor-stopped"), (e: Error) => {
      assert.match(e.message, /^verify found failures:\nCHECK +STATUS +DETAIL\n/);
      assert.match(e.message, /^compactor +FAIL +/m);
      return true;
    });
  });
});

describe("upCommand", () => {
  function recordingRuntime(name: Runtime["name"]): { runtime: Runtime; calls: UpOptions[] } {
    const calls: UpOptions[] = [];
    const none = () => Promise.reject(new Error("not used"));
    const runtime: Runtime = {
      name,
      up: async (_t, opts) => {
        calls.push(opts);
      },
      down: none,
      status: none,
      endpoints: none,
    };
    return { runtime, calls };
  }
  const base = { stateDir: "/nonexistent", verbose: false, signal: new AbortController().signal };

  for (const name of ["kubernetes", "local"] as const) {
    it(`hands the ${name} runtime the closing verify, and none with --no-verify`, async () => {
      const { runtime, calls } = recordingRuntime(name);
      await upCommand(runtime, topology, { ...base, verify: true });
      await upCommand(runtime, topology, { ...base, verify: false });
      assert.equal(typeof calls[0]?.verify, "function");
      assert.equal(calls[1]?.verify, undefined);
      assert.ok(CLOSING_VERIFY_WAIT_MS[name] > 0);
    });
  }

  it("refuses --images on the local runtime before the runtime is asked to do anything", async () => {
    const { runtime, calls } = recordingRuntime("local");
    await assert.rejects(upCommand(runtime, topology, { ...base, verify: true, images: "images.tar" }), {
      message: /--images loads images into kind nodes: use it with --runtime kubernetes/,
      exitCode: 2,
    });
    assert.equal(calls.length, 0);
  });

  it("warns in one line when HTTP is plaintext: tls.http false anywhere, tls.http on Kubernetes (not realised there)", async () => {
    const stderr = async (name: Runtime["name"], http: boolean) => {
      const { runtime } = recordingRuntime(name);
      const write = process.stderr.write.bind(process.stderr);
      let out = "";
      process.stderr.write = ((chunk: string) => {
        out += chunk;
        return true;
      }) as typeof process.stderr.write;
      try {
        await upCommand(runtime, parseFleet({ ...DEFAULT_FLEET, tls: { http } }, "t"), {
          ...base,
          verify: false,
        });
      } finally {
        process.stderr.write = write;
      }
      return out;
    };
    assert.equal(await stderr("local", true), "");
    const off = await stderr("local", false);
    assert.equal(off.split("\n").filter(Boolean).length, 1);
    assert.match(off, /^warning: tls\.http is false: .*plaintext and anonymous; remove 'http: false'/);
    // Kubernetes realises tls.http as the local runtime does: no warning either.
    assert.equal(await stderr("kubernetes", true), "");
  });
});
