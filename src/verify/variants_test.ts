// Breakages that are slow or impossible to provoke on this machine, made by editing one answer of a recorded
// healthy fleet (the shapes stay real); and Grafana, which only the Kubernetes runtime runs, from its API's shapes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Recording, readRecording, replayOptions } from "../../testing/verify/replay.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import type { CheckResult } from "./types.ts";
import { verifyFleet } from "./verify.ts";

type Edit = (rec: Recording) => void;

const topology = parseFleet(DEFAULT_FLEET, "default");
const recording = readRecording;

function replay(rec: Recording) {
  return verifyFleet(topology, rec.endpoints, replayOptions(rec));
}

function edited(...edits: Edit[]): Recording {
  const rec = recording("healthy");
  for (const e of edits) e(rec);
  return rec;
}

function body(match: (url: string) => boolean, change: (text: string) => string): Edit {
  return (rec) => {
    const urls = Object.keys(rec.responses).filter(match);
    assert.ok(urls.length > 0, "the edit matches a recorded answer");
    for (const url of urls) {
      const r = rec.responses[url];
      if (r && "body" in r) r.body = change(r.body);
    }
  };
}

function answer(match: (url: string) => boolean, status: number, text: string): Edit {
  return (rec) => {
    const urls = Object.keys(rec.responses).filter(match);
    assert.ok(urls.length > 0, "the edit matches a recorded answer");
    for (const url of urls) rec.responses[url] = { status, body: text };
  };
}

function stores(
  change: (data: Record<string, { name: string; labelSets: Record<string, string>[] }[]>) => void,
): Edit {
  return body(
    (u) => u.endsWith("/api/v1/stores"),
    (text) => {
      const doc = JSON.parse(text);
      change(doc.data);
      return JSON.stringify(doc);
    },
  );
}

async function check(rec: Recording, id: string): Promise<CheckResult> {
  const report = await replay(rec);
  const r = report.checks.find((c) => c.id === id);
  assert.ok(r, `check ${id} reported`);
  return r;
}

const GRAFANA = {
  cluster: "biz1",
  url: "http://127.78.1.40:3000",
  user: "admin",
  password: "example-password",
};
const DS = `${GRAFANA.url}/api/datasources/name/Thanos`;
const HEALTH = `${GRAFANA.url}/api/datasources/uid/P5DCFC7561CCDE821/health`;
// Shapes of Grafana 12's answers.
const DS_BODY = JSON.stringify({
  id: 2,
  uid: "P5DCFC7561CCDE821",
  orgId: 1,
  name: "Thanos",
  type: "prometheus",
  access: "proxy",
  url: "http://172.18.0.3:30900",
  isDefault: false,
  readOnly: true,
});
const HEALTH_OK = JSON.stringify({
  details: { application: "Prometheus", features: { rulerApiEnabled: false } },
  message: "Successfully queried the Prometheus API.",
  status: "OK",
});
const HEALTH_ERR = JSON.stringify({
  message:
    'Post "http://172.18.0.3:30900/api/v1/query": dial tcp 172.18.0.3:30900: connect: connection refused - There was an error returned querying the Prometheus API.',
  status: "ERROR",
});

function withGrafana(ds: [number, string], health?: [number, string]): Edit {
  return (rec) => {
    rec.endpoints.runtime = "kubernetes";
    rec.endpoints.grafana = [GRAFANA];
    rec.responses[DS] = { status: ds[0], body: ds[1] };
    if (health) rec.responses[HEALTH] = { status: health[0], body: health[1] };
  };
}

const cases: {
  name: string;
  id: string;
  edits: Edit[];
  status: CheckResult["status"];
  detail: RegExp;
  cause?: RegExp;
}[] = [
  {
    name: "the compactor halted",
    id: "compactor",
    edits: [
      body(
        (u) => u === "http://127.78.0.16:10902/metrics",
        (t) => t.replace("thanos_compact_halted 0", "thanos_compact_halted 1"),
      ),
    ],
    status: "fail",
    detail: /thanos-compact-0 halted \(thanos_compact_halted=1\)/,
    cause: /overlapping blocks/,
  },
  {
    name: "query lists a StoreAPI that fleet.yaml does not describe",
    id: "stores",
    edits: [
      stores((d) => {
        d.sidecar?.push({
          ...(d.sidecar[0] as object),
          name: "10.0.0.9:10901",
          labelSets: [{ cluster: "legacy" }],
        } as never);
      }),
    ],
    status: "fail",
    detail: /unexpected sidecar 10\.0\.0\.9:10901 \{cluster="legacy"\} on thanos-query-0, thanos-query-1/,
    cause: /endpoint that fleet\.yaml does not describe/,
  },
  {
    name: "a sidecar that query never reached is absent from its list",
    id: "stores",
    edits: [
      stores((d) => {
        d.sidecar = (d.sidecar ?? []).filter((s) => s.name !== "127.78.1.1:31001");
      }),
    ],
    status: "fail",
    detail:
      /sidecar biz1\/prometheus-kube-prometheus-stack-prometheus-1 \(127\.78\.1\.1:31001\) missing from thanos-query-0, thanos-query-1/,
  },
  {
    name: "a sidecar serves other external labels than fleet.yaml gives it",
    id: "stores",
    edits: [
      stores((d) => {
        const s = d.sidecar?.find((x) => x.name === "127.78.1.1:31001");
        if (s) s.labelSets = [{ cluster: "biz1", replica: "1" }];
      }),
    ],
    status: "fail",
    detail:
      /\(127\.78\.1\.1:31001\) on thanos-query-0, thanos-query-1 serves \{cluster="biz1",replica="1"\}, expected \{cluster="biz1",prometheus_replica="prometheus-kube-prometheus-stack-prometheus-1"\}/,
  },
  {
    name: "a query replica is down",
    id: "stores",
    edits: [
      (rec) => {
        rec.responses["http://127.78.0.14:10902/api/v1/stores"] = {
          error: "refused",
          message: "connection refused",
        };
      },
    ],
    status: "fail",
    detail:
      /thanos-query-1 did not answer \/api\/v1\/stores at http:\/\/127\.78\.0\.14:10902: connection refused/,
  },
  {
    name: "query does not deduplicate (replica label not configured)",
    id: "query",
    edits: [
      (rec) => {
        const urls = Object.keys(rec.responses);
        const raw = rec.responses[urls.find((u) => u.includes("dedup=false")) as string];
        rec.responses[urls.find((u) => u.includes("dedup=true")) as string] = raw as never;
      },
    ],
    status: "fail",
    detail: /with dedup biz1 returns 2 series still labelled prometheus_replica, expected 1/,
    cause: /--query\.replica-label/,
  },
  {
    name: "Prometheus runs with other external labels",
    id: "sidecars",
    edits: [
      body(
        (u) => u === "http://127.78.2.10:9090/api/v1/status/config",
        (t) => t.replace("cluster: biz2", "cluster: biz2-old"),
      ),
    ],
    status: "fail",
    detail:
      /biz2\/prometheus-kube-prometheus-stack-prometheus-0 has external labels \{cluster="biz2-old",.*\(Prometheus config\), expected \{cluster="biz2",/,
  },
  {
    name: "the bucket does not exist",
    id: "objstore",
    edits: [
      answer(
        (u) => u.includes("list-type=2"),
        404,
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>thanos</BucketName></Error>',
      ),
    ],
    status: "fail",
    detail: /bucket thanos does not exist at http:\/\/127\.78\.3\.1:32000/,
  },
  {
    name: "blocks carry labels no replica has",
    id: "objstore",
    edits: [
      body(
        (u) => u.endsWith("/meta.json"),
        (t) => t.replaceAll('"prometheus_replica"', '"replica"'),
      ),
    ],
    status: "fail",
    detail:
      /blocks labelled \{cluster="biz1",replica="prometheus-kube-prometheus-stack-prometheus-0"\}, which no replica in fleet\.yaml carries/,
  },
  {
    name: "a rule group is missing from a ruler",
    id: "ruler",
    edits: [
      body(
        (u) => u === "http://127.78.0.11:10902/api/v1/rules",
        () => JSON.stringify({ status: "success", data: { groups: [] } }),
      ),
    ],
    status: "fail",
    detail: /thanos-ruler-0 has no rule group thanos-fleet/,
  },
  {
    name: "a ruler stopped evaluating",
    id: "ruler",
    edits: [
      body(
        (u) => u === "http://127.78.0.11:10902/api/v1/rules",
        (t) => t.replace(/"lastEvaluation":"[^"]+"/g, '"lastEvaluation":"2026-11-24T01:58:00Z"'),
      ),
    ],
    status: "fail",
    detail: /thanos-ruler-0 group thanos-fleet last evaluated \d+s ago \(every 15s\)/,
  },
  {
    name: "Grafana's Thanos datasource answers",
    id: "grafana",
    edits: [withGrafana([200, DS_BODY], [200, HEALTH_OK])],
    status: "pass",
    detail: /biz1: datasource Thanos OK/,
  },
  {
    name: "Grafana cannot reach query-frontend",
    id: "grafana",
    edits: [withGrafana([200, DS_BODY], [400, HEALTH_ERR])],
    status: "fail",
    detail: /Grafana in biz1: datasource Thanos unhealthy \(400: Post .*connection refused/,
    cause: /cannot reach Thanos query-frontend in mgmt/,
  },
  {
    name: "Grafana has no Thanos datasource",
    id: "grafana",
    edits: [withGrafana([404, JSON.stringify({ message: "Data source not found" })])],
    status: "fail",
    detail: /Grafana in biz1 has no datasource named Thanos/,
  },
  {
    name: "Grafana rejects the admin password",
    id: "grafana",
    edits: [
      withGrafana([
        401,
        JSON.stringify({
          extra: null,
          message: "Invalid username or password",
          messageId: "password-auth.failed",
          statusCode: 401,
        }),
      ]),
    ],
    status: "fail",
    detail: /Grafana in biz1 rejected user admin \(401\)/,
  },
];

describe("checks against edited recordings", () => {
  for (const c of cases) {
    it(`${c.id}: ${c.name}`, async () => {
      const r = await check(edited(...c.edits), c.id);
      assert.equal(r.status, c.status, r.detail);
      assert.match(r.detail, c.detail);
      if (c.cause) assert.match(r.cause ?? "", c.cause);
    });
  }

  it("the watchdog not yet at the Alertmanager, moments after it fired, is pending", async () => {
    const rec = edited(
      answer((u) => u.includes("/api/v2/alerts"), 200, "[]"),
      body(
        (u) => u.endsWith("/api/v1/rules"),
        (t) => t.replace(/"activeAt":"[^"]+"/g, '"activeAt":"2026-11-24T02:43:10Z"'),
      ),
      body(
        (u) => u.endsWith(":10902/metrics"),
        (t) => t.replace(/thanos_alert_sender_errors_total.*\n?/g, ""),
      ),
    );
    const r = await check(rec, "ruler");
    assert.equal(r.status, "pending", r.detail);
    assert.match(r.detail, /FleetWatchdog fired moments ago, not yet at the Alertmanager/);
    assert.ok(r.expectedBy && Date.parse(r.expectedBy) > Date.parse(rec.now));
  });

  it("a replica just started (no sample yet, its sidecar listed healthy) is pending, not failing", async () => {
    const rec = edited(
      body(
        (u) => u.includes("dedup=false"),
        (t) => {
          const doc = JSON.parse(t);
          doc.data.result = doc.data.result.filter(
            (r: { metric: Record<string, string> }) =>
              !(
                r.metric.cluster === "biz1" &&
                r.metric.prometheus_replica === "prometheus-kube-prometheus-stack-prometheus-1"
              ),
          );
          return JSON.stringify(doc);
        },
      ),
      stores((d) => {
        const s = d.sidecar?.find((x) => x.name === "127.78.1.1:31001") as { minTime: number } | undefined;
        if (s) s.minTime = -62167219200000;
      }),
    );
    const r = await check(rec, "query");
    assert.equal(r.status, "pending", r.detail);
    assert.match(
      r.detail,
      /biz1\/prometheus-kube-prometheus-stack-prometheus-1: Prometheus started moments ago, no sample yet/,
    );
  });

  it("no check is listed for Grafana on a runtime without Grafana", async () => {
    const report = await replay(recording("healthy"));
    assert.equal(
      report.checks.find((c) => c.id === "grafana"),
      undefined,
    );
  });
});
