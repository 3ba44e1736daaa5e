// The query benchmark's verdict on two answers: same series, same instants, values within the stated tolerance.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareAnswers,
  DEDUPLICATED,
  DOWNSAMPLED,
  RAW,
  type Series,
  toleranceFor,
} from "../../bench/query/compare.ts";

const s = (cluster: string, values: [number, number][]): Series => ({
  metric: { cluster },
  values: values.map(([t, v]) => [t, String(v)]),
});

describe("compareAnswers", () => {
  it("raw: equal within 1e-9 relative passes, 1e-6 does not", () => {
    const a = [
      s("biz1", [
        [1, 100],
        [2, 200],
      ]),
      s("biz2", [[1, 3]]),
    ];
    assert.equal(
      compareAnswers(
        a,
        [
          s("biz2", [[1, 3]]),
          s("biz1", [
            [1, 100 * (1 + 5e-10)],
            [2, 200],
          ]),
        ],
        RAW,
      ).same,
      true,
    );
    const v = compareAnswers(
      a,
      [
        s("biz1", [
          [1, 100.0001],
          [2, 200],
        ]),
        s("biz2", [[1, 3]]),
      ],
      RAW,
    );
    assert.equal(v.same, false);
    assert.match(v.text, /^no: 1 of 3 points beyond 1e-9/);
  });

  it("a series or a point missing on one side is no answer at all the same", () => {
    const a = [s("biz1", [[1, 1]]), s("biz2", [[1, 1]])];
    assert.match(compareAnswers(a, [s("biz1", [[1, 1]])], RAW).text, /1 series only in the first/);
    assert.match(
      compareAnswers(
        [
          s("biz1", [
            [1, 1],
            [2, 1],
          ]),
        ],
        [
          s("biz1", [
            [1, 1],
            [3, 1],
          ]),
        ],
        RAW,
      ).text,
      /at other instants/,
    );
  });

  it("NaN matches NaN (an empty histogram bucket's quantile)", () => {
    assert.equal(
      compareAnswers([s("biz1", [[1, Number.NaN]])], [s("biz1", [[1, Number.NaN]])], RAW).same,
      true,
    );
  });

  it("the tolerance follows what was read", () => {
    assert.equal(toleranceFor(["raw", "raw"], false), RAW);
    assert.equal(toleranceFor(["raw", "raw"], true), DEDUPLICATED);
    assert.equal(toleranceFor(["raw", "raw+5m"], true), DOWNSAMPLED);
    assert.equal(compareAnswers([s("a", [[1, 100]])], [s("a", [[1, 100.5]])], DEDUPLICATED).same, true);
    assert.equal(compareAnswers([s("a", [[1, 100]])], [s("a", [[1, 102]])], DEDUPLICATED).same, false);
  });
});
