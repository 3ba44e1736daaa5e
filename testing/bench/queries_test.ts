// The query benchmark refuses a partial answer (a store failed, e.g. on a limit, and query answered "success" with
// what was left): timing or comparing it would measure an empty panel.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { ask } from "../../bench/query/queries.ts";

test("ask rejects an answer that carries warnings, and keeps a whole one's series", async () => {
  let warnings: string[] | undefined = ["exceeded chunks limit: limit 300000 violated (got 300070)"];
  const server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    const result = warnings ? [] : [{ metric: { cluster: "biz1" }, values: [[1, "2"]] }];
    res.end(JSON.stringify({ status: "success", data: { resultType: "matrix", result }, warnings }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const q = { name: "7d p90 histogram", kind: "range" as const, expr: "x", rangeS: 60, stepS: 60 };
    await assert.rejects(ask(url, q, 1000), /a partial answer: exceeded chunks limit/);
    // PromQL's own annotation is no missing data: the answer is whole.
    warnings = [
      "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)",
    ];
    const fixed = await ask(url, q, 1000);
    assert.equal(fixed.series, 0);
    warnings = undefined;
    const a = await ask(url, q, 1000);
    assert.deepEqual(a.result, [{ metric: { cluster: "biz1" }, values: [[1, "2"]] }]);
  } finally {
    server.close();
  }
});
