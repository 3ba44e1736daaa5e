// `certs rotate` on Kubernetes: what a person reads, and the exit code when a server does not present its new
// certificate in time (the runtime faked: src/runtimes/kube/certs_test.ts covers what it does).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultTopology, issuerTopology } from "../render/testdata/fixtures.ts";
import type { RotationReport } from "../runtimes/kube/certs.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import { certsCommand, certsRotateCommand } from "./certs.ts";

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
  storage: [
    { name: "s3-server", serialBefore: "0E", serialAfter: "0F", notAfter: "2027-03-07T21:00:00.000Z" },
  ],
  renewedObjects: ["mgmt/ConfigMap/thanos-query-config", "biz1/Secret/thanos-fleet-http-tls"],
  renewedObjectsDeferred: ["mgmt/ConfigMap/thanos-query-frontend-config"],
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

test("Kubernetes with a cert-manager Issuer: re-issued by cert-manager, each pod presenting the new one", async () => {
  const out: string[] = [];
  const issued: RotationReport = { ...report, secrets: [] };
  const code = await certsRotateCommand(kube(issued), issuerTopology(), {
    stateDir: "/state",
    json: false,
    write: (t) => out.push(t),
  });
  assert.equal(code, 0);
  const text = out.join("");
  assert.match(
    text,
    /cert-manager re-issued 1 Certificate\(s\) from ClusterIssuer fleet-ca on their own keys/,
  );
  assert.doesNotMatch(text, /tls\/servers|wrote 0 Secret/);
  assert.match(text, /mgmt\/thanos-query-1:10902 +yes, after 70 s/);
});

test("certs lists each server's Certificate as issued by the Issuer, with its not-after from the cluster", async () => {
  const out: string[] = [];
  const stateDir = await mkdtemp(join(tmpdir(), "certs-issued-"));
  try {
    const code = await certsCommand({
      stateDir,
      json: false,
      write: (t) => out.push(t),
      issued: [
        {
          cluster: "mgmt",
          workload: "thanos-query",
          secret: "thanos-query-tls",
          sans: ["DNS:thanos-query", "IP:127.0.0.1"],
          issuedBy: "issued by ClusterIssuer/fleet-ca (cert-manager)",
          notAfter: "2027-03-07T21:00:00.000Z",
          daysLeft: 89,
          ready: "Ready=True Ready: Certificate is up to date and has not expired",
        },
        {
          cluster: "biz1",
          workload: "alertmanager",
          secret: "alertmanager-tls",
          sans: ["DNS:kube-prometheus-stack-alertmanager"],
          issuedBy: "issued by ClusterIssuer/fleet-ca (cert-manager)",
          ready: "cluster not reachable (connect ECONNREFUSED)",
        },
      ],
    });
    assert.equal(code, 0);
    const text = out.join("");
    assert.match(
      text,
      /Kubernetes: mgmt\/thanos-query, every pod of it \(Secret thanos-query-tls\) +- +DNS:thanos-query IP:127\.0\.0\.1 +2027-03-07 +89 +issued by ClusterIssuer\/fleet-ca \(cert-manager\)/,
    );
    assert.match(
      text,
      /biz1\/alertmanager.* - +- \(cluster not reachable \(connect ECONNREFUSED\)\) +issued by/,
    );
    out.length = 0;
    await certsCommand({ stateDir, json: true, write: (t) => out.push(t), issued: [] });
    assert.deepEqual(JSON.parse(out.join("")).issued, []);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
