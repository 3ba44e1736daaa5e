// Thanos's key proved scoped: verify's refused requests, and what it reports when one is not refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FleetEndpoints } from "../endpoints.ts";
import type { HttpClient, HttpRequest } from "../net/http.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { scopeProblems } from "./checks/objstore.ts";
import { Probe } from "./probe.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const URL_BASE = "http://127.77.3.1:32000";
const DENIED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>';
const NO_BUCKET =
  "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";

function endpoints(scopeCheckBucket?: string): FleetEndpoints {
  return {
    runtime: "local",
    targets: [],
    queryFrontend: "http://127.77.0.1:30900",
    objectStore: {
      url: URL_BASE,
      bucket: "thanos",
      accessKey: "thanos-key",
      secretKey: "secret",
      ...(scopeCheckBucket ? { scopeCheckBucket } : {}),
    },
  };
}

/** Answers each `METHOD path` from the table; records what was asked. */
function server(answers: Record<string, { status: number; body: string }>) {
  const asked: string[] = [];
  const http: HttpClient = async (url: string, req?: HttpRequest) => {
    const key = `${req?.method ?? "GET"} ${new URL(url).pathname}`;
    asked.push(key);
    const a = answers[key] ?? { status: 403, body: DENIED };
    return { status: a.status, headers: {}, body: a.body };
  };
  return { http, asked };
}

const probeWith = (http: HttpClient, other?: string) =>
  new Probe(topology, endpoints(other), http, () => new Date("2026-11-30T12:00:00Z"));

describe("scopeProblems", () => {
  it("proves the scope when listing and deleting the other bucket and creating one are all refused", async () => {
    const s = server({});
    const result = await scopeProblems(probeWith(s.http, "thanos-fleet-scope-check"));
    assert.deepEqual(result, { problems: [], proved: true });
    assert.deepEqual(s.asked, [
      "GET /thanos-fleet-scope-check",
      "PUT /thanos-fleet-scope-check-new",
      "DELETE /thanos-fleet-scope-check",
    ]);
  });

  it("names each request the key was allowed", async () => {
    const s = server({
      "GET /thanos-fleet-scope-check": {
        status: 200,
        body: "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
      },
      "DELETE /thanos-fleet-scope-check": { status: 204, body: "" },
    });
    const { problems, proved } = await scopeProblems(probeWith(s.http, "thanos-fleet-scope-check"));
    assert.equal(proved, false);
    assert.deepEqual(
      problems.map((p) => p.what),
      [
        "access key thanos-key may list bucket thanos-fleet-scope-check",
        "access key thanos-key may delete bucket thanos-fleet-scope-check",
      ],
    );
  });

  it("a missing scope-check bucket proves nothing and says how to make it", async () => {
    const s = server({ "GET /thanos-fleet-scope-check": { status: 404, body: NO_BUCKET } });
    const { problems, proved } = await scopeProblems(probeWith(s.http, "thanos-fleet-scope-check"));
    assert.equal(proved, false);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.what ?? "", /bucket thanos-fleet-scope-check does not exist/);
    assert.match(problems[0]?.fix ?? "", /thanos-fleet up/);
  });

  it("an external object store (no scope-check bucket) is not probed", async () => {
    const s = server({});
    assert.deepEqual(await scopeProblems(probeWith(s.http)), { problems: [], proved: false });
    assert.deepEqual(s.asked, []);
  });
});
