import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BLOCK_DURATION_ENV, resolveLocalOptions, SYNC_INTERVAL_ENV } from "./options.ts";

describe("the local runtime's block timings from the environment", () => {
  it("take a duration longer than 0s", () => {
    const o = resolveLocalOptions({}, { [BLOCK_DURATION_ENV]: "5m", [SYNC_INTERVAL_ENV]: "500ms" });
    assert.equal(o.blockDuration, "5m");
    assert.equal(o.bucketSyncInterval, "500ms");
  });

  for (const [env, value] of [
    [SYNC_INTERVAL_ENV, "0s"],
    [BLOCK_DURATION_ENV, "0m"],
    [SYNC_INTERVAL_ENV, "1m1h"],
  ] as const) {
    it(`refuse ${env}=${value} with exit 2, before anything starts`, () => {
      assert.throws(
        () => resolveLocalOptions({}, { [env]: value }),
        (e: Error & { exitCode?: number }) => {
          assert.equal(e.exitCode, 2);
          assert.equal(e.message, `${env}="${value}" is not a duration longer than 0s, such as 2m or 2h`);
          return true;
        },
      );
    });
  }
});
