// The harness itself: a control plane answers as Kubernetes v1.36 through its kubeconfig, a broken start says
// why with the log's tail, and stop() leaves no process, port or file behind.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig, VersionApi } from "@kubernetes/client-node";
import {
  type ControlPlane,
  ControlPlaneStartError,
  envtestSkip,
  retryOnPortClash,
  startControlPlane,
  startControlPlanes,
} from "./controlplane.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { isListening } from "./ports.ts";

const skip = envtestSkip();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function assertGone(cp: ControlPlane): Promise<void> {
  for (const p of Object.values(cp.processes))
    assert.equal(alive(p.pid), false, `${p.name} pid ${p.pid} still runs`);
  for (const [what, port] of Object.entries(cp.ports)) {
    assert.equal(await isListening(port), false, `${what} port ${port} still listens`);
  }
  assert.equal(existsSync(cp.dir), false, `${cp.dir} still exists`);
}

function client(kubeconfigPath: string, context: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  kc.setCurrentContext(context);
  return kc;
}

test("kubeconfigYaml writes one cluster, user and context per entry, the first current", () => {
  const pem = (s: string) => `-----BEGIN X-----\n${s}\n-----END X-----\n`;
  const kc = new KubeConfig();
  kc.loadFromString(
    kubeconfigYaml([
      { context: "kind-a", server: "https://127.0.0.1:1", ca: pem("ca"), cert: pem("c1"), key: pem("k1") },
      { context: "kind-b", server: "https://127.0.0.1:2", ca: pem("ca"), cert: pem("c2"), key: pem("k2") },
    ]),
  );
  assert.equal(kc.getCurrentContext(), "kind-a");
  assert.deepEqual(
    kc.getContexts().map((c) => [c.name, kc.getCluster(c.cluster)?.server]),
    [
      ["kind-a", "https://127.0.0.1:1"],
      ["kind-b", "https://127.0.0.1:2"],
    ],
  );
  assert.equal(kc.getUser("kind-b")?.certData, Buffer.from(pem("c2")).toString("base64"));
  assert.throws(() => kubeconfigYaml([]), /at least one context/);
});

test("a start whose port was taken meanwhile is tried again; any other failure is not", async () => {
  const clash = new ControlPlaneStartError(
    "etcd exited: listen tcp 127.0.0.1:2379: bind: address already in use",
  );
  let calls = 0;
  const flaky = async () => {
    calls++;
    if (calls < 3) throw clash;
    return "up";
  };
  assert.equal(await retryOnPortClash(flaky), "up");
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    retryOnPortClash(async () => {
      calls++;
      throw clash;
    }),
    /address already in use/,
  );
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    retryOnPortClash(async () => {
      calls++;
      throw new Error("unknown flag: --x");
    }),
    /unknown flag/,
  );
  assert.equal(calls, 1);
});

test(
  "a control plane serves Kubernetes v1.36 to its kubeconfig and stop() leaves nothing",
  {
    skip,
  },
  async () => {
    const cp = await startControlPlane({ name: "harness", context: "kind-harness" });
    try {
      assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
      const kc = client(cp.kubeconfigPath, "kind-harness");
      const version = await kc.makeApiClient(VersionApi).getCode();
      assert.equal(version.gitVersion, "v1.36.3");
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: "harness-check" } } });
      const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
      assert.ok(names.includes("harness-check"), `namespaces: ${names.join(", ")}`);
      // The admin is in system:masters, so RBAC lets it do anything.
      const svc = await core.createNamespacedService({
        namespace: "harness-check",
        body: {
          metadata: { name: "np" },
          spec: { type: "NodePort", selector: { app: "x" }, ports: [{ port: 80, nodePort: 30080 }] },
        },
      });
      assert.match(svc.spec?.clusterIP ?? "", /^10\.0\.0\.\d+$/);
      assert.equal(svc.spec?.ports?.[0]?.nodePort, 30080);
    } finally {
      await cp.stop();
    }
    await assertGone(cp);
    await cp.stop(); // twice is fine
  },
);

test(
  "a control plane that cannot start names the process and shows its log, and leaves nothing",
  {
    skip,
  },
  async () => {
    const before = new Set(await readdir(tmpdir()));
    await assert.rejects(
      startControlPlane({ name: "broken", apiserverArgs: ["--no-such-flag=1"] }),
      (err: unknown) => {
        assert.ok(err instanceof ControlPlaneStartError);
        assert.match(
          err.message,
          /test control plane "broken": kube-apiserver exited with code \d+ before it was ready/,
        );
        assert.match(err.message, /last lines of .*kube-apiserver\.log/);
        assert.match(err.message, /unknown flag: --no-such-flag/);
        return true;
      },
    );
    const leftovers = (await readdir(tmpdir())).filter((f) => !before.has(f) && f.includes("envtest-broken"));
    assert.deepEqual(leftovers, []);
  },
);

test("several control planes are separate clusters behind one kubeconfig", { skip }, async () => {
  const fleet = await startControlPlanes(["kind-one", "kind-two"]);
  try {
    for (const context of ["kind-one", "kind-two"]) {
      const core = client(fleet.kubeconfigPath, context).makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: `only-in-${context}` } } });
    }
    for (const [context, other] of [
      ["kind-one", "kind-two"],
      ["kind-two", "kind-one"],
    ] as const) {
      const core = client(fleet.kubeconfigPath, context).makeApiClient(CoreV1Api);
      const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
      assert.ok(names.includes(`only-in-${context}`));
      assert.ok(!names.includes(`only-in-${other}`), `${context} sees ${other}'s namespace`);
    }
  } finally {
    await fleet.stop();
  }
  for (const cp of fleet.planes) await assertGone(cp);
  assert.equal(existsSync(fleet.dir), false);
});

/** A child test process that starts a control plane, reports it, then ends as `how` says. */
const CHILD = (how: "signal" | "crash" | "kill") => `
import { startControlPlane } from ${JSON.stringify(fileURLToPath(new URL("./controlplane.ts", import.meta.url)))};
const cp = await startControlPlane({ name: "orphan-${how}" });
console.log(JSON.stringify({ dir: cp.dir, ports: cp.ports, pids: Object.values(cp.processes).map((p) => p.pid) }));
${how === "crash" ? 'setTimeout(() => { throw new Error("the test crashed"); }, 100);' : "setInterval(() => {}, 1000);"}
`;

const HOW = {
  signal: "is stopped by SIGTERM",
  crash: "crashes",
  kill: "is killed outright (SIGKILL)",
} as const;

for (const how of ["signal", "crash", "kill"] as const) {
  test(
    `a test process that ${HOW[how]} leaves no server${how === "kill" ? "" : " and no dir"}`,
    {
      skip:
        skip ||
        (how === "kill" && !existsSync("/usr/bin/setpriv") ? "no /usr/bin/setpriv (util-linux)" : false),
    },
    async () => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", CHILD(how)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d;
      });
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const report = await new Promise<{ dir: string; ports: Record<string, number>; pids: number[] }>(
        (resolve, reject) => {
          child.stdout.on("data", (d: Buffer) => {
            out += d;
            const line = out.split("\n")[0];
            if (out.includes("\n") && line) resolve(JSON.parse(line));
          });
          child.once("exit", (code) => reject(new Error(`child exited (${code}) before reporting: ${err}`)));
        },
      );
      assert.ok(existsSync(report.dir));
      if (how === "signal") child.kill("SIGTERM");
      if (how === "kill") child.kill("SIGKILL");
      await exited;
      // SIGKILL is sent as the test process exits (by its exit hooks, or by the kernel for a process killed
      // outright); the kernel takes a moment to end and reap them.
      for (let i = 0; i < 100 && report.pids.some(alive); i++) await sleep(100);
      for (const pid of report.pids) assert.equal(alive(pid), false, `pid ${pid} outlived the test process`);
      for (const port of Object.values(report.ports))
        assert.equal(await isListening(port), false, `port ${port}`);
      if (how === "kill") {
        // Nothing of a process killed outright runs: its temp dir is left for the system's tmp cleaning.
        await rm(report.dir, { recursive: true, force: true });
        return;
      }
      assert.equal(existsSync(report.dir), false, `${report.dir} outlived the test process`);
    },
  );
}
