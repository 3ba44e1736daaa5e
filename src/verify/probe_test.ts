// What `stores` takes for query's current view of its endpoints: each checked within one check interval, or failing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FleetEndpoints } from "../endpoints.ts";
import type { HttpClient } from "../net/http.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { Probe, QUERY_ENDPOINT_CHECK_MS } from "./probe.ts";

const topology = parseFleet(DEFAULT_FLEET, "default");
const NOW = Date.parse("2026-12-01T03:00:00Z");
const QUERY = { cluster: "mgmt", component: "query" as const, pod: "thanos-query-0", url: "http://q" };
const endpoints: FleetEndpoints = {
  runtime: "local",
  targets: [QUERY],
  queryFrontend: "http://qf",
  objectStore: { url: "http://s3", bucket: "thanos", accessKey: "a", secretKey: "s" },
};

interface Entry {
  name: string;
  lastCheck: string;
  lastError: string | null;
}

const checkedAgo = (name: string, ms: number, lastError: string | null = null): Entry => ({
  name,
  lastCheck: new Date(NOW - ms).toISOString(),
  lastError,
});

/** Query's /api/v1/stores answering each view in turn (the last one from then on); counts the reads. */
function query(views: Entry[][]): { http: HttpClient; reads: () => number } {
  let reads = 0;
  const http: HttpClient = async (url) => {
    assert.equal(url, "http://q/api/v1/stores");
    const sidecar = (views[Math.min(reads, views.length - 1)] ?? []).map((e) => ({ ...e, labelSets: [] }));
    reads++;
    return { status: 200, headers: {}, body: JSON.stringify({ status: "success", data: { sidecar } }) };
  };
  return { http, reads: () => reads };
}

const probe = (http: HttpClient, waitMs: number) =>
  new Probe(topology, endpoints, http, () => new Date(NOW), waitMs);

describe("Probe.stores", () => {
  it("takes a view whose every endpoint was checked within one check interval at once", async () => {
    const q = query([[checkedAgo("a", 200), checkedAgo("b", QUERY_ENDPOINT_CHECK_MS - 100)]]);
    const t = Date.now();
    const entries = await probe(q.http, 60_000).stores(QUERY);
    assert.equal(q.reads(), 1);
    assert.ok(Date.now() - t < 5000, "did not wait for a later check");
    assert.deepEqual(
      entries.map((e) => [e.name, e.stale ?? false]),
      [
        ["a", false],
        ["b", false],
      ],
    );
  });

  it("takes an endpoint whose last check failed at once: query stamps lastCheck on success only", async () => {
    const q = query([
      [checkedAgo("dead", 60_000, "rpc error: code = Unavailable desc = connection refused")],
    ]);
    const [dead] = await probe(q.http, 60_000).stores(QUERY);
    assert.equal(q.reads(), 1);
    assert.equal(dead?.stale, undefined);
    assert.match(dead?.lastError ?? "", /connection refused/);
  });

  it("asks again about an endpoint not checked within the interval, until query has checked it", async () => {
    const q = query([
      [checkedAgo("a", 200), checkedAgo("late", 8000)],
      [checkedAgo("a", 300), checkedAgo("late", 0)],
    ]);
    const entries = await probe(q.http, 60_000).stores(QUERY);
    assert.equal(q.reads(), 2);
    assert.ok(entries.every((e) => !e.stale));
  });

  it("marks an endpoint query has stopped checking stale once the wait is over", async () => {
    const q = query([[checkedAgo("a", 200), checkedAgo("hung", 8000)]]);
    const entries = await probe(q.http, 300).stores(QUERY);
    assert.ok(q.reads() >= 2);
    assert.deepEqual(
      entries.map((e) => [e.name, e.stale ?? false]),
      [
        ["a", false],
        ["hung", true],
      ],
    );
  });

  it("takes the first answer as it is without a wait (a recorded fleet)", async () => {
    const q = query([[checkedAgo("hung", 8000)]]);
    const [hung] = await probe(q.http, 0).stores(QUERY);
    assert.equal(q.reads(), 1);
    assert.equal(hung?.stale, undefined);
  });
});
