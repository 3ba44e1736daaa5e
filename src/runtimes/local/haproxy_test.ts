import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../render/testdata/fixtures.ts";
import type { Credentials } from "../../state/credentials.ts";
import { loadOrCreateFleetTls } from "../../state/tls.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { findHaproxy } from "./binaries.ts";
import { planLocalFleet } from "./processes.ts";

const creds: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};
const topology = parseFleet(DEFAULT_FLEET, "test");
const plan = planLocalFleet(
  topology,
  creds,
  "/state",
  {
    subnet: "127.77",
    blockDuration: "1m",
    bucketSyncInterval: "5s",
  },
  FAKE_GRPC_TLS,
  FAKE_HTTP_TLS,
  FAKE_S3_TLS,
);
const configOf = (cluster: string) => {
  const lb = plan.processes.find((p) => p.cluster === cluster && p.component === "load-balancer");
  assert.ok(lb, `no load balancer in ${cluster}`);
  return lb.files[0]?.content ?? "";
};

/** backend name → its server lines. */
function backends(config: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of config.split("\n")) {
    const m = /^backend (\S+)$/.exec(line);
    if (m?.[1]) {
      current = [];
      out.set(m[1], current);
    } else if (/^\S/.test(line)) current = undefined;
    else if (current && line.trim().startsWith("server ")) current.push(line.trim());
  }
  return out;
}

describe("haproxy.cfg", () => {
  test("the real haproxy accepts every cluster's config", async () => {
    const haproxy = findHaproxy(topology);
    const dir = await mkdtemp(join(tmpdir(), "fleet-haproxy-"));
    try {
      // The checks' CA and client certificate, real, where the plan (state dir /state) says they are.
      const stateDir = join(dir, "state");
      const tls = await loadOrCreateFleetTls(stateDir);
      for (const cluster of ["mgmt", "biz1", "biz2", "minio"]) {
        const file = join(dir, `${cluster}.cfg`);
        const pem = join(stateDir, "local", cluster, "haproxy", "check-client.pem");
        await mkdir(dirname(pem), { recursive: true });
        await writeFile(pem, `${tls.http.clientCert}${tls.http.clientKey}`);
        await writeFile(file, configOf(cluster).replaceAll(" /state/", ` ${stateDir}/`));
        const out = await new Promise<string>((resolve, reject) =>
          execFile(haproxy, ["-c", "-f", file], (err, stdout, stderr) =>
            err
              ? reject(new Error(`${cluster}: ${stdout}${stderr}`, { cause: err }))
              : resolve(`${stdout}${stderr}`),
          ),
        );
        assert.match(out, /Configuration file is valid/, cluster);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const [cluster, backend, servers] of [
    ["mgmt", "thanos-query_http", 2],
    ["mgmt", "thanos-query_grpc", 2],
    ["mgmt", "thanos-store_grpc", 1],
    ["biz1", "thanos-sidecar-0_grpc", 1],
    ["biz1", "thanos-sidecar-1_http", 1],
    ["biz1", "prometheus-1_web", 1],
    ["minio", "seaweedfs_api", 1],
  ] as const) {
    test(`${cluster}: ${backend} balances over ${servers} pod(s) with a readiness check`, () => {
      const lines = backends(configOf(cluster)).get(backend);
      assert.ok(lines, `no backend ${backend}`);
      assert.equal(lines.length, servers);
      // The S3 API serves HTTPS (the fleet CA): its check speaks TLS, unverified, as a kubelet's HTTPS probe does.
      const tls =
        backend === "seaweedfs_api"
          ? " check-ssl verify none"
          : "( check-ssl verify required ca-file \\S+ crt \\S+ check-sni thanos-fleet-http verifyhost thanos-fleet-http)?";
      for (const l of lines) {
        assert.match(
          l,
          new RegExp(`^server \\S+ 127\\.77\\.[0-9]+\\.[0-9]+:[0-9]+ check port [0-9]+${tls}$`),
        );
      }
    });
  }

  test("query-frontend's backend checks by TCP connect (its rate limit answers /-/ready with 429), the others by HTTP", () => {
    const section = (config: string, name: string) =>
      config.split("\n\n").find((b) => b.startsWith(`backend ${name}\n`)) ?? "";
    const frontend = section(configOf("mgmt"), "thanos-query-frontend_http");
    assert.match(frontend, /server thanos-query-frontend-0 \S+:10902 check port 10902/);
    assert.doesNotMatch(frontend, /httpchk|http-check/);
    assert.match(section(configOf("mgmt"), "thanos-query_http"), /http-check send meth GET uri \/-\/ready /);
  });

  test("a sidecar's Service selects only its own replica, on the replica's readiness port", () => {
    const lines = backends(configOf("biz1")).get("thanos-sidecar-1_grpc") ?? [];
    const ip = plan.network.podIp("biz1", "prometheus-kube-prometheus-stack-prometheus-1");
    assert.deepEqual(lines, [
      `server prometheus-kube-prometheus-stack-prometheus-1 ${ip}:10901 check port 10902 check-ssl verify required ` +
        "ca-file /state/tls/ca.crt crt /state/local/biz1/haproxy/check-client.pem check-sni thanos-fleet-http " +
        "verifyhost thanos-fleet-http",
    ]);
  });

  test("NodePorts bind on the node address, Service ports on the Service address; headless Services get none", () => {
    const mgmt = configOf("mgmt");
    assert.ok(mgmt.includes(`bind 127.77.0.1:${topology.observer.nodePorts.queryFrontend}`));
    assert.ok(mgmt.includes(`bind ${plan.network.serviceIp("mgmt", "thanos-query-frontend")}:10902`));
    assert.doesNotMatch(mgmt, /thanos-ruler/);
    const biz2 = configOf("biz2");
    assert.ok(biz2.includes("bind 127.77.2.1:31001"));
    assert.doesNotMatch(
      biz2,
      /bind 127\.77\.[013]\./,
      "a cluster's load balancer binds only its own addresses",
    );
  });
});
