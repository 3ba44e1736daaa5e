import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../net/http.ts";
import { ApiError, classifyFailure } from "./probe.ts";
import { fail, shortGrpcError } from "./result.ts";

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

describe("classifyFailure", () => {
  const cases: [unknown, string, RegExp][] = [
    [new HttpError("http://x", "refused", "refused"), "down", /^the sidecar is down: nothing listens/],
    [new HttpError("http://x", "timeout", "timeout"), "hung", /does not answer in time/],
    [
      new HttpError("http://x", "unreachable", "unreachable"),
      "unreachable",
      /address is not reachable from here/,
    ],
    [
      new ApiError("http://x", 429, "429"),
      "overloaded",
      /overloaded: it runs and refused the request with HTTP 429/,
    ],
    [new ApiError("http://x", 503, "503"), "overloaded", /runs but refused the request with HTTP 503/],
    [new ApiError("http://x", 500, "500"), "failing", /answers, but not as expected \(HTTP 500\)/],
    [new Error("answered error: bad_data"), "failing", /answers, but not as expected: answered error/],
  ];
  for (const [error, kind, want] of cases) {
    it(`${(error as Error).message} → ${kind}`, () => {
      const got = classifyFailure(error, "the sidecar");
      assert.equal(got.kind, kind);
      assert.match(got.cause, want);
      // Only a process that runs gets a fix of its own (not to restart it); the others get their check's hint.
      assert.equal(got.fix !== undefined, kind === "overloaded");
    });
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
