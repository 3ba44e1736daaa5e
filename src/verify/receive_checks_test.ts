// Verify on a fleet with biz2 on receive, against answers recorded from a real local fleet (Thanos v0.42.4): healthy,
// and with one ingester killed and held down by the ingester drill.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRecording, replayOptions } from "../../testing/verify/replay.ts";
import type { HttpClient } from "../net/http.ts";
import { receiveTopology } from "../render/testdata/fixtures.ts";
import { checkReceive } from "./checks/receive.ts";
import { Probe } from "./probe.ts";
import type { Report } from "./types.ts";
import { verifyFleet } from "./verify.ts";

const topology = receiveTopology();

function replay(name: string): Promise<Report> {
  const rec = readRecording(name);
  return verifyFleet(topology, rec.endpoints, replayOptions(rec));
}

function check(report: Report, id: string) {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

describe("verify with a receive-mode cluster", () => {
  it("healthy: every check passes; receive counts the ingesters' copies, writes and shipped blocks", async () => {
    const report = await replay("receive-healthy");
    assert.deepEqual(
      report.checks.filter((c) => c.status !== "pass").map((c) => `${c.id}: ${c.detail}`),
      [],
    );
    assert.match(
      check(report, "receive").detail,
      /^biz2: every replica on 3 of 3 ready ingesters; \d+ writes, none failed; \d+ blocks shipped/,
    );
    assert.match(check(report, "stores").detail, /3 receive ingesters, all healthy/);
    // biz2 runs no sidecar: the sidecars check counts biz1's, objstore counts biz2's blocks by tenant.
    assert.match(check(report, "sidecars").detail, /^2 sidecars see Prometheus up/);
    assert.match(check(report, "objstore").detail, /biz2 \d+ \(from the ingesters\)/);
  });

  it("an ingester restarted a minute ago has shipped nothing since: pending, not failing", async () => {
    const rec = readRecording("receive-healthy");
    const target = rec.endpoints.targets.find((t) => t.pod === "thanos-receive-ingester-2");
    const url = `${target?.url}/metrics`;
    const page = rec.responses[url];
    assert.ok(page && "body" in page);
    const started = (Date.parse(rec.now) - 60_000) / 1000;
    page.body = page.body
      .replace(/^process_start_time_seconds .*$/m, `process_start_time_seconds ${started}`)
      .replace(
        /^thanos_shipper_uploads_total\{tenant="biz2"\} .*$/m,
        'thanos_shipper_uploads_total{tenant="biz2"} 0',
      );
    // The ingesters hold data from 10 minutes ago, long enough for a first block to be overdue (1m blocks).
    const tenMinutesAgo = Date.parse(rec.now) - 600_000;
    for (const [u, r] of Object.entries(rec.responses)) {
      if (u.endsWith("/api/v1/stores") && "body" in r)
        r.body = r.body.replaceAll('"minTime":1796626493042', `"minTime":${tenMinutesAgo}`);
    }
    const report = await verifyFleet(topology, rec.endpoints, replayOptions(rec));
    const receive = check(report, "receive");
    assert.equal(receive.status, "pending", receive.detail);
    assert.match(receive.detail, /first blocks due .*thanos-receive-ingester-2\/biz2/);
  });

  it("live: writes that failed before and fail no more pass, writes that still fail do not", async () => {
    // The healthy fleet's routers, with 5xx answers to writes: as many on every read, or more on each.
    const run = async (growing: boolean) => {
      const rec = readRecording("receive-healthy");
      const replayed = replayOptions(rec);
      const routers = rec.endpoints.targets.filter((t) => t.component === "receive-router");
      let reads = 0;
      const http: HttpClient = async (url, req) => {
        const answer = await replayed.http(url, req);
        if (!routers.some((t) => url === `${t.url}/metrics`)) return answer;
        reads++;
        const failed = growing ? 10 * reads : 10;
        const line = `http_requests_total{code="503",handler="receive",method="post"} ${failed}\n`;
        return { ...answer, body: `${answer.body}\n${line}` };
      };
      // A live probe (it waits for a current view): the check reads the routers again after its window.
      const probe = new Probe(topology, rec.endpoints, http, replayed.now, 1);
      const result = await checkReceive(probe);
      assert.ok(result);
      return result;
    };
    const before = await run(false);
    assert.equal(before.status, "pass", before.detail);
    assert.match(before.detail, /none failed in the last 10s \(20 since the routers started\)/);
    const still = await run(true);
    assert.equal(still.status, "fail");
    assert.match(still.detail, /remote writes failed at the routers \(HTTP 5xx\) in the last 10s/);
  });

  it("one ingester held down: receive and stores name it; the view stays complete", async () => {
    const report = await replay("receive-ingester-down");
    const receive = check(report, "receive");
    assert.equal(receive.status, "fail");
    assert.match(
      receive.detail,
      /ingester mgmt\/thanos-receive-ingester-2 is not ready at http:\/\/[0-9.]+:10902: connection refused/,
    );
    assert.match(receive.cause ?? "", /one more lost ingester stops writes at replication factor 3/);
    assert.match(receive.fix ?? "", /held down on purpose/);
    const stores = check(report, "stores");
    assert.equal(stores.status, "fail");
    assert.match(stores.detail, /receive ingester mgmt\/thanos-receive-ingester-2 .* unhealthy/);
    for (const id of ["query", "gaps", "objstore", "sidecars"])
      assert.equal(check(report, id).status, "pass", id);
  });
});
