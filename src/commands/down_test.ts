import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { downWaitMs } from "./down.ts";

describe("down --wait", () => {
  it("is parsed before anything is deleted: a duration longer than zero, else exit 2", () => {
    assert.throws(
      () => downWaitMs("5 minutes"),
      (e: Error & { exitCode?: number }) =>
        /--wait '5 minutes' is not a duration/.test(e.message) && e.exitCode === 2,
    );
    assert.throws(
      () => downWaitMs("0s"),
      (e: Error & { exitCode?: number }) =>
        /--wait '0s' is no time to wait/.test(e.message) && e.exitCode === 2,
    );
    assert.equal(downWaitMs("90s"), 90_000);
    assert.equal(downWaitMs(undefined), undefined);
  });
});
