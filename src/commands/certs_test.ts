// `certs rotate` on Kubernetes: what a person reads, and the exit code when a server does not present its new
// certificate in time (the runtime faked: src/runtimes/kube/certs_test.ts covers what it does).
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultTopology } from "../render/testdata/fixtures.ts";
import type { RotationReport } from "../runtimes/kube/certs.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import { certsRotateCommand } from "./certs.ts";

function kube(report: RotationReport, progress: string[] = []): Runtime {
  return {
    name: "kubernetes",
    rotateCerts: async (_t: unknown, opts: { progress: (l: string) => void }) => {
      for (const l of progress) opts.progress(l);
      return report;
    },
    close: async () => {},
  } as unknown as Runtime;
}

const report: RotationReport = {
  renewed: [{ name: "kube@mgmt/thanos-query", serialBefore: "01", serialAfter: "02" }],
  clients: [
    { name: "grpc-client", serialBefore: "0A", serialAfter: "0B", notAfter: "2027-03-07T21:00:00.000Z" },
    { name: "http-client", serialBefore: "0C", serialAfter: "0D", notAfter: "2027-03-07T21:00:00.000Z" },
  ],
  clientObjects: ["mgmt/ConfigMap/thanos-query-config", "biz1/Secret/thanos-fleet-http-tls"],
  clientObjectsDeferred: ["mgmt/ConfigMap/thanos-query-frontend-config"],
  grafanaRestarted: ["biz1"],
  secrets: ["mgmt/thanos-query-tls"],
  pods: [
    {
      server: "kube@mgmt/thanos-query",
      pod: "mgmt/thanos-query-0:10902",
      presented: true,
      afterMs: 65_000,
      serial: "02",
    },
    {
      server: "kube@mgmt/thanos-query",
      pod: "mgmt/thanos-query-1:10902",
      presented: true,
      afterMs: 70_000,
      serial: "02",
    },
  ],
  running: true,
  ms: 71_000,
};

test("Kubernetes: the Secrets written in place, progress, and each pod presenting its new certificate", async () => {
  let out = "";
  const code = await certsRotateCommand(
    kube(report, ["  1/2 server pods present their new certificate after 65 s"]),
    defaultTopology(),
    {
      stateDir: "/state",
      json: false,
      write: (t) => {
        out += t;
      },
    },
  );
  assert.equal(code, 0);
  assert.match(out, /1\/2 server pods present their new certificate after 65 s/);
  assert.match(out, /wrote 1 Secret\(s\) in place: mgmt\/thanos-query-tls; no pod restarted/);
  assert.match(out, /mgmt\/thanos-query\s+mgmt\/thanos-query-1:10902\s+yes, after 70 s/);
});

test("Kubernetes: a pod still presenting the old certificate fails the command (exit 1), named", async () => {
  let out = "";
  const late = {
    ...report,
    pods: [
      { server: "kube@mgmt/thanos-query", pod: "mgmt/thanos-query-0:10902", presented: false, serial: "01" },
    ],
  };
  const code = await certsRotateCommand(kube(late), defaultTopology(), {
    stateDir: "/state",
    json: false,
    write: (t) => {
      out += t;
    },
  });
  assert.equal(code, 1);
  assert.match(out, /mgmt\/thanos-query-0:10902\s+no \(serial 01\)/);
  assert.match(out, /1 server pod\(s\) still present the old certificate/);
  let json = "";
  assert.equal(
    await certsRotateCommand(kube(late), defaultTopology(), {
      stateDir: "/state",
      json: true,
      write: (t) => {
        json += t;
      },
    }),
    1,
  );
  assert.equal(JSON.parse(json).pods[0].presented, false);
});
