// What `up` does to each process of a fleet that already runs: start the dead, replace the changed, keep the rest.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../render/testdata/fixtures.ts";
import type { Credentials } from "../../state/credentials.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import type { Executables } from "./binaries.ts";
import { convergeActions, formatActions } from "./converge.ts";
import { type ProcessPlan, planLocalFleet } from "./processes.ts";
import type { ProcessRecord } from "./state.ts";
import { specHash } from "./supervisor.ts";

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
const executables: Executables = new Map(plan.processes.map((p) => [p.binary, `/bin/${p.binary}`]));

/** A record of a process that runs now (this test's own pid) or is gone (a pid that never lives this long). */
function record(p: ProcessPlan, alive: boolean, hash = specHash(p, `/bin/${p.binary}`)): ProcessRecord {
  return {
    id: p.id,
    cluster: p.cluster,
    workload: p.workload,
    pod: p.pod,
    container: p.container,
    component: p.component,
    pid: alive ? process.pid : 2 ** 22 + 1,
    startTicks: alive ? Number.NaN : -1,
    executable: `/bin/${p.binary}`,
    ip: p.ip,
    ports: p.ports,
    readiness: p.readiness,
    log: p.log,
    startedAt: new Date().toISOString(),
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    specHash: hash,
    restarts: 0,
  };
}

test("a fresh fleet: every process is created", () => {
  const actions = convergeActions(plan.processes, [], executables);
  assert.ok(actions.every((a) => a.action === "create"));
  assert.equal(actions.length, plan.processes.length);
});

test("a partly running fleet: the dead start, the changed are replaced, the rest is left alone", async () => {
  const { readStat } = await import("./proc.ts");
  const self = readStat(process.pid)?.startTicks as number;
  const [dead, changed, ...rest] = plan.processes as [ProcessPlan, ProcessPlan, ...ProcessPlan[]];
  const recorded = [
    record(dead, false),
    { ...record(changed, true, "an older spec"), startTicks: self },
    ...rest.map((p) => ({ ...record(p, true), startTicks: self })),
    { ...record(dead, true), id: "mgmt/gone-0/gone", startTicks: self },
  ];
  const actions = convergeActions(plan.processes, recorded, executables);
  const of = (id: string) => actions.find((a) => a.id === id)?.action;
  assert.equal(of(dead.id), "start");
  assert.equal(of(changed.id), "replace");
  assert.equal(of("mgmt/gone-0/gone"), "remove");
  assert.ok(rest.every((p) => of(p.id) === "unchanged"));
  const text = formatActions(actions);
  assert.match(text, new RegExp(`start\\s+${dead.id}\\s+was not running`));
  assert.match(text, new RegExp(`replace\\s+${changed.id}\\s+its command, environment or files changed`));
  assert.match(text, new RegExp(`${rest.length} process\\(es\\) unchanged`));
});

test("the spec digest changes with arguments, environment and files, not with anything else", () => {
  const p = plan.processes[0] as ProcessPlan;
  const h = specHash(p, "/bin/x");
  assert.equal(specHash({ ...p, stage: 99 }, "/bin/x"), h);
  assert.notEqual(specHash({ ...p, args: [...p.args, "--more"] }, "/bin/x"), h);
  assert.notEqual(specHash({ ...p, env: { ...p.env, X: "1" } }, "/bin/x"), h);
  assert.notEqual(specHash({ ...p, files: [{ path: "/f", content: "c" }] }, "/bin/x"), h);
  assert.notEqual(specHash(p, "/bin/y"), h);
});
