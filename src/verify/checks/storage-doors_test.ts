// The storage-doors check against a bare, real `weed server` run with the args, files and environment of the fleet's
// SeaweedFS spec: hardened (the default), every port refuses anonymous access to the bucket, the master's HTTP and the
// gRPC ports ask for SeaweedFS's certificate; without the hardening the same check finds the open doors.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { binaryPath } from "../../binaries/resolve.ts";
import type { SpecContext } from "../../components/context.ts";
import { SCOPE_CHECK_BUCKET } from "../../components/objstore.ts";
import { seaweedfs, seaweedfsGrpcPorts } from "../../components/seaweedfs.ts";
import { storageService } from "../../components/storage.ts";
import { nodeClient } from "../../net/https.ts";
import { S3Client, s3HttpClient } from "../../net/s3.ts";
import { loadS3Tls } from "../../state/tls.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { attempts, openDoors } from "./storage-doors.ts";

const run = promisify(execFile);
const SUBNET = process.env.THANOS_FLEET_VERIFY_SUBNET ?? "127.76";
const topology = parseFleet(DEFAULT_FLEET, "storage doors test");
const ADMIN = { accessKey: "doors-admin", secretKey: "doors-admin-secret-0123456789" };
const THANOS = { accessKey: "doors-thanos", secretKey: "doors-thanos-secret-0123456789" };
const BUCKET = topology.fleet.bucket;
const root = await mkdtemp(join(tmpdir(), "storage-doors-"));
const stateDir = join(root, "state");
const { tls } = await loadS3Tls(stateDir, storageService(topology));
const running: ChildProcess[] = [];

after(async () => {
  for (const p of running) if (p.exitCode === null) p.kill("SIGKILL");
  await rm(root, { recursive: true, force: true });
});

interface Weed {
  ip: string;
  ports: number[];
  env: Record<string, string>;
  s3: string;
}

/** Starts weed as the fleet's spec says, on `ip`; with `hardened: false`, without its TLS and JWT keys. */
async function startWeed(ip: string, name: string, hardened: boolean, grpcBase: number): Promise<Weed> {
  const dir = join(root, name);
  const ctx = {
    listenHost: ip,
    configDir: () => join(dir, "config"),
    dataDir: () => join(dir, "data"),
    seaweedfsGrpcBase: grpcBase,
    ...(hardened ? { s3Tls: tls } : {}),
  } as unknown as SpecContext;
  const spec = seaweedfs(topology, ctx, ADMIN, THANOS);
  const c = spec.pods[0]?.containers[0];
  assert.ok(c);
  await mkdir(join(dir, "config"), { recursive: true });
  await mkdir(join(dir, "data"), { recursive: true });
  for (const f of c.files) await writeFile(join(dir, "config", f.name), f.content, { mode: 0o600 });
  const env = hardened ? { ...c.env, ...c.secretEnv } : {};
  const args = c.args.map((a) => a.replaceAll("$(POD_IP)", ip));
  const child = spawn(binaryPath("weed"), args, { env: { ...process.env, ...env }, stdio: "ignore" });
  running.push(child);
  const s3 = `${hardened ? "https" : "http"}://${ip}:8333`;
  const http = s3HttpClient(hardened ? { ca: tls.ca, serverName: tls.serverName } : {}, 2000);
  const admin = new S3Client({ url: s3, bucket: BUCKET, ...ADMIN }, http);
  const deadline = Date.now() + 60_000;
  for (const bucket of [BUCKET, SCOPE_CHECK_BUCKET]) {
    for (;;) {
      try {
        await admin.forBucket(bucket).createBucket();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`weed at ${ip} never took a bucket`, { cause: error });
        await sleep(300);
      }
    }
  }
  // An object in the fleet's bucket, written with the admin key (curl signs it).
  const obj = join(dir, "obj");
  await writeFile(obj, "block data\n");
  const sigv4 = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${ADMIN.accessKey}:${ADMIN.secretKey}`];
  const cacert = hardened
    ? ["--cacert", join(dir, "config", "ca.crt"), "--resolve", `${tls.serverName}:8333:${ip}`]
    : [];
  const target = hardened ? `https://${tls.serverName}:8333` : s3;
  await run("curl", ["-sSf", ...cacert, ...sigv4, "-T", obj, `${target}/${BUCKET}/dir/obj`]);
  return { ip, ports: c.ports.map((p) => p.port), env, s3 };
}

const anonymous = nodeClient({ timeoutMs: 3000, tls: { insecure: true } });
const tries = attempts(BUCKET, SCOPE_CHECK_BUCKET);

async function weedShell(weed: Weed, grpcBase: number, env: Record<string, string>): Promise<string> {
  const master = `${weed.ip}:9333.${seaweedfsGrpcPorts(grpcBase).master}`;
  const child = execFile(binaryPath("weed"), ["shell", `-master=${master}`], {
    env: { ...process.env, ...env },
    timeout: 15_000,
  });
  child.stdin?.end("s3.bucket.list\nexit\n");
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  await new Promise((resolve) => child.on("close", resolve));
  return out;
}

test(
  "hardened SeaweedFS: no port gives anonymous access; the master and gRPC ask for SeaweedFS's certificate",
  { timeout: 180_000 },
  async () => {
    const base = 42000 + 4 * Number(SUBNET.split(".")[1]);
    const weed = await startWeed(`${SUBNET}.9.2`, "hardened", true, base);
    const doors = weed.ports.map((p) => `${weed.ip}:${p}`);
    const open = (await Promise.all(doors.map((d) => openDoors(anonymous, d, tries)))).flat();
    assert.deepEqual(open, [], `anonymous requests let through: ${open.join(", ")}`);
    assert.ok(doors.length >= 9, `${doors.length} ports`);

    // The anonymous master collection delete that once wiped a bucket's data: refused, the object is still there.
    await anonymous(`https://${weed.ip}:9333/col/delete?collection=${BUCKET}`).then(
      (r) => assert.fail(`the master answered ${r.status} without a client certificate`),
      () => {},
    );
    const admin = new S3Client(
      { url: weed.s3, bucket: BUCKET, ...ADMIN },
      s3HttpClient({ ca: tls.ca, serverName: tls.serverName }, 5000),
    );
    assert.equal(await admin.get("dir/obj"), "block data\n");
    // Thanos's client verifies the certificate: without the fleet CA, no connection.
    await assert.rejects(
      new S3Client({ url: weed.s3, bucket: BUCKET, ...THANOS }, s3HttpClient({}, 3000)).headBucket(),
    );

    // gRPC: weed shell without SeaweedFS's certificate sees nothing; with it (the setup Job's env), the buckets.
    assert.doesNotMatch(await weedShell(weed, base, {}), new RegExp(BUCKET));
    assert.match(await weedShell(weed, base, weed.env), new RegExp(`${SCOPE_CHECK_BUCKET}`));
  },
);

test(
  "without its TLS and JWT keys the same SeaweedFS lets anonymous requests through, and the check says so",
  { timeout: 180_000 },
  async () => {
    const base = 42000 + 4 * Number(SUBNET.split(".")[1]) + 400;
    const weed = await startWeed(`${SUBNET}.9.3`, "open", false, base);
    const open = (
      await Promise.all(weed.ports.map((p) => openDoors(anonymous, `${weed.ip}:${p}`, tries)))
    ).flat();
    assert.ok(
      open.some((o) => o.startsWith(`GET http://${weed.ip}:8888/buckets/${BUCKET}/`)),
      open.join(", "),
    );
    assert.ok(
      open.some((o) => o.startsWith(`PUT http://${weed.ip}:8888/buckets/`)),
      open.join(", "),
    );
    assert.ok(
      open.some((o) => o.startsWith(`GET http://${weed.ip}:9333/dir/assign`)),
      open.join(", "),
    );
  },
);
