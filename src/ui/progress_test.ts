import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CheckResult, Report } from "../verify/types.ts";
import { waitProgress } from "./progress.ts";

function report(checks: Partial<CheckResult>[]): Report {
  const full = checks.map((c) => ({ id: "x", title: "x", status: "pass", detail: "", ...c }) as CheckResult);
  return {
    runtime: "kubernetes",
    ok: full.every((c) => c.status !== "fail"),
    checks: full,
    summary: {
      pass: full.filter((c) => c.status === "pass").length,
      fail: full.filter((c) => c.status === "fail").length,
      pending: full.filter((c) => c.status === "pending").length,
    },
    durationMs: 1,
  } as Report;
}

const ESC = "\u001b";

const waiting = report([
  { id: "query", status: "pass", detail: "ok" },
  { id: "objstore", status: "pending", detail: "no block in the bucket yet" },
  { id: "stores", status: "fail", detail: "thanos-query-0 sees 3 of 4 stores" },
]);

describe("verify --wait progress", () => {
  test("without a TTY: a line for each check still waited for, again only when it changes", () => {
    const out: string[] = [];
    const progress = waitProgress({ write: (t) => out.push(t), isTTY: false });
    progress({ report: waiting, remainingMs: 290_000 });
    progress({ report: waiting, remainingMs: 280_000 });
    assert.deepEqual(out, [
      "verify: 1/3 pass; waiting for objstore, stores (5m left)\n",
      "verify:   objstore pending: no block in the bucket yet\n",
      "verify:   stores failing: thanos-query-0 sees 3 of 4 stores\n",
    ]);
    progress({
      report: report([
        { id: "query", status: "pass" },
        { id: "objstore", status: "pending", detail: "no block in the bucket yet" },
        { id: "stores", status: "pass" },
      ]),
      remainingMs: 240_000,
    });
    assert.deepEqual(out.slice(3), [
      "verify: 2/3 pass; waiting for objstore (4m left)\n",
      "verify:   objstore pending: no block in the bucket yet\n",
    ]);
  });

  test("on a TTY: a live block, one line per pending check, redrawn in place", () => {
    const out: string[] = [];
    const progress = waitProgress({ write: (t) => out.push(t), isTTY: true, columns: 60 });
    progress({ report: waiting, remainingMs: 290_000 });
    progress({ report: waiting, remainingMs: 288_000 });
    const text = out.join("");
    assert.match(text, /objstore +pending +no block in the bucket yet/);
    assert.match(text, /stores +failing +thanos-query-0 sees 3 of 4 stores/);
    // The second drawing moves up over the first block and clears it.
    assert.ok(out.slice(1).join("").includes(`${ESC}[3A`));
    assert.match(text, /5m left/);
    progress.done();
    assert.equal(out.at(-1), `${ESC}[3A\r${ESC}[J`);
  });

  test("no report yet: says why", () => {
    const out: string[] = [];
    const progress = waitProgress({ write: (t) => out.push(t), isTTY: false });
    progress({ error: new Error("no endpoints yet"), remainingMs: 60_000 });
    assert.deepEqual(out, ["verify: fleet not reachable yet: no endpoints yet (1m left)\n"]);
  });
});
