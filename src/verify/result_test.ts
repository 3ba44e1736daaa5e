import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../net/http.ts";
import { downCause, fail, shortGrpcError } from "./result.ts";

describe("shortGrpcError", () => {
  // lastError texts as Thanos v0.42.4's /api/v1/stores shows them.
  const cases: [string, string][] = [
    [
      'rpc error: code = DeadlineExceeded desc = latest balancer error: connection error: desc = "transport: Error while dialing: dial tcp 127.0.1.1:10901: connect: connection refused"',
      "dial tcp 127.0.1.1:10901: connect: connection refused",
    ],
    [
      'rpc error: code = DeadlineExceeded desc = latest balancer error: connection error: desc = "error reading server preface: EOF"',
      "error reading server preface: EOF",
    ],
    ["Not ready", "Not ready"],
  ];
  for (const [text, want] of cases) it(want, () => assert.equal(shortGrpcError(text), want));
});

describe("downCause", () => {
  const cases: [unknown, RegExp][] = [
    [new HttpError("http://x", "refused", "refused"), /^the sidecar is not running$/],
    [new HttpError("http://x", "timeout", "timeout"), /does not answer in time/],
    [new HttpError("http://x", "unreachable", "unreachable"), /address is not reachable from here/],
  ];
  for (const [error, want] of cases) {
    it(`${(error as HttpError).kind} → ${want}`, () => assert.match(downCause(error, "the sidecar"), want));
  }
});

describe("fail", () => {
  it("says each distinct problem once, and joins causes and fixes", () => {
    const r = fail({ id: "x", title: "x" }, [
      { what: "a down", cause: "c1", fix: "f1" },
      { what: "b down", cause: "c1", fix: "f2" },
      { what: "a down", cause: "c1", fix: "f1" },
    ]);
    assert.equal(r.detail, "a down; b down");
    assert.equal(r.cause, "c1");
    assert.equal(r.fix, "f1 / f2");
  });
});
