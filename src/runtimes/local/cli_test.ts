// The real CLI on the local runtime where `up` must stop short: Ctrl-C stops every process it had started, leaves
// no state behind that claims a fleet and exits 130; an address already taken stops it before anything is written.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sessionMembers } from "./proc.ts";
import { localRoot } from "./processes.ts";
import { readState } from "./state.ts";

const SUBNET = "127.73";
const CLI = join(import.meta.dirname, "..", "..", "cli.ts");
/** Interrupt once this many processes run: past the storage stage, in the middle of the fleet. */
const INTERRUPT_AFTER = 6;

const stateDir = await mkdtemp(join(tmpdir(), "fleet-cli-"));
after(async () => {
  // Should the interrupt have missed, the fleet is up: take it down before its state goes.
  const { status } = spawnSync(process.execPath, [
    "--import",
    "tsx",
    CLI,
    "down",
    "--runtime",
    "local",
    "--state-dir",
    stateDir,
  ]);
  if (status !== 0) process.stderr.write(`down after the CLI tests exited ${status}\n`);
  await rm(stateDir, { recursive: true, force: true });
});

test("Ctrl-C during up stops what was started and exits 130", { timeout: 120_000 }, async () => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", CLI, "up", "--runtime", "local", "--state-dir", stateDir, "--verbose", "--no-verify"],
    { env: { ...process.env, THANOS_FLEET_LOCAL_SUBNET: SUBNET }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const pids = new Set<number>();
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  // Progress, verbose lines included, goes to stderr.
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    for (const m of String(chunk).matchAll(/started \(pid ([0-9]+)\)/g)) pids.add(Number(m[1]));
    if (pids.size >= INTERRUPT_AFTER && !interrupted) interrupted = child.kill("SIGINT");
  });
  let interrupted = false;
  const [code] = await once(child, "exit");

  assert.ok(interrupted, `up ended before ${INTERRUPT_AFTER} processes ran:\n${stdout}${stderr}`);
  assert.equal(code, 130, `exit code; stderr:\n${stderr}`);
  assert.match(stderr, /interrupted: stopping what was started/);
  assert.match(stderr, /stopped the [0-9]+ processes it had started/);
  // Each fleet process leads its own session: nothing of any of them (children included) survives.
  assert.deepEqual(sessionMembers(pids), []);
  assert.equal(await readState(localRoot(stateDir)), undefined, "no state left that claims a running fleet");
});

test("an address of the fleet already taken: up names it and writes nothing, not even the state dir", async () => {
  // query-frontend's NodePort in mgmt, the first cluster.
  const address = { host: `${SUBNET}.0.1`, port: 30900 };
  const squatter = createServer().listen(address.port, address.host);
  await once(squatter, "listening");
  const fresh = join(stateDir, "fresh");
  try {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", CLI, "up", "--runtime", "local", "--state-dir", fresh, "--no-verify"],
      { env: { ...process.env, THANOS_FLEET_LOCAL_SUBNET: SUBNET }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`already in use by another program: ${address.host}:${address.port}`));
    assert.match(stderr, /THANOS_FLEET_LOCAL_SUBNET=127\.74/);
    await assert.rejects(stat(fresh), { code: "ENOENT" });
  } finally {
    squatter.close();
  }
});
