// `thanos-fleet status`: RESTARTS per process, the state column, and a crash loop shown with its log tail.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProcessStatus, Runtime } from "../runtimes/runtime.ts";
import { loadTopology } from "../topology/load.ts";
import { statusCommand } from "./status.ts";

const topology = await loadTopology();

function runtimeWith(rows: ProcessStatus[]): Runtime {
  return { name: "local", status: async () => rows } as unknown as Runtime;
}

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

const row = (over: Partial<ProcessStatus>): ProcessStatus => ({
  cluster: "biz1",
  component: "sidecar",
  pod: "prometheus-0",
  pid: 42,
  address: "127.77.1.10:10902",
  ready: true,
  restarts: 0,
  state: "running",
  urls: {},
  ...over,
});

test("RESTARTS and STATE columns; a crash loop with how it ended and its log tail; exit 1 unless all ready", async () => {
  const rows = [
    row({}),
    row({
      pod: "prometheus-1",
      ready: false,
      restarts: 3,
      state: "CrashLoopBackOff (next start in 38 s)",
      lastExit: "exited with code 1",
      logTail: "\n  last lines of x.log:\n    level=error msg=boom",
    }),
  ];
  const { code, out } = await capture(() =>
    statusCommand(runtimeWith(rows), topology, { stateDir: "/x", json: false }),
  );
  assert.equal(code, 1);
  assert.match(out, /PID\s+ADDRESS\s+READY\s+RESTARTS\s+STATE/);
  assert.match(out, /prometheus-1\s+42\s+\S+\s+no\s+3\s+CrashLoopBackOff \(next start in 38 s\)/);
  assert.match(out, /biz1\/prometheus-1 \(sidecar\) is in a crash loop: 3 restarts, last exited with code 1/);
  assert.match(out, /level=error msg=boom/);
});

test("--json carries restarts", async () => {
  const { code, out } = await capture(() =>
    statusCommand(runtimeWith([row({ restarts: 2 })]), topology, { stateDir: "/x", json: true }),
  );
  assert.equal(code, 0);
  assert.equal(JSON.parse(out).processes[0].restarts, 2);
});

test("status says where the fleet's client certificate and CA are, and prints no key or certificate", async () => {
  const { out } = await capture(() =>
    statusCommand(runtimeWith([row({})]), topology, { stateDir: "/st", json: false }),
  );
  assert.match(
    out,
    /client certificate \/st\/tls\/http-client\.crt \(key \/st\/tls\/http-client\.key\).*CA \/st\/tls\/ca\.crt/,
  );
  // Each server presents its own certificate: no name shared by all is pinned.
  assert.match(out, /presents its own certificate for the addresses it serves/);
  assert.doesNotMatch(out, /BEGIN/);
  const json = await capture(() =>
    statusCommand(runtimeWith([row({})]), topology, { stateDir: "/st", json: true }),
  );
  assert.deepEqual(JSON.parse(json.out).httpClientCertificate, {
    ca: "/st/tls/ca.crt",
    cert: "/st/tls/http-client.crt",
    key: "/st/tls/http-client.key",
  });
});

test("on Kubernetes too, status says where the fleet's client certificate is, never what it is", async () => {
  const runtime = { name: "kubernetes", status: async () => [row({})] } as unknown as Runtime;
  const { out } = await capture(() => statusCommand(runtime, topology, { stateDir: "/st", json: false }));
  assert.match(
    out,
    /HTTPS: every HTTP port outside its cluster answers only the fleet's client certificate \/st\/tls\/http-client\.crt/,
  );
  assert.doesNotMatch(out, /plaintext/);
});
