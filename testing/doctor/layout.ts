// Hand-made Thanos layouts for doctor's tests, started straight from the pinned binaries with their own flags: not
// through the fleet's component specs, so doctor is proven on installations thanos-fleet did not make. One process
// per loopback address (<subnet>.<net>.<host>, the subnet 127.106 unless THANOS_FLEET_DOCTOR_SUBNET says another), each
// with the usual Thanos ports.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { binaryPath } from "../../src/binaries/resolve.ts";
import { fetchClient } from "../../src/net/http.ts";
import { type S3Access, S3Client } from "../../src/net/s3.ts";
import { signV4 } from "../../src/net/sigv4.ts";
import { logTail } from "../../src/runtimes/local/supervisor.ts";

const run = promisify(execFile);

export const HTTP_PORT = 10902;
export const GRPC_PORT = 10901;
const S3_PORT = 8333;
/** weed names a Unix socket in /tmp after each gRPC port: ports no fleet of this machine uses (those are 40000-41023). */
const WEED_GRPC_BASE = 41424;
const SUBNET = process.env.THANOS_FLEET_DOCTOR_SUBNET ?? "127.106";

export interface Key {
  accessKey: string;
  secretKey: string;
}

/** The test identities: the admin makes buckets, the writer is Thanos's, the reader may only read and list. */
export const KEYS = {
  admin: { accessKey: "doctor-admin", secretKey: "doctor-admin-secret-key-for-tests" },
  writer: { accessKey: "doctor-writer", secretKey: "doctor-writer-secret-key-for-tests" },
  reader: { accessKey: "doctor-reader", secretKey: "doctor-reader-secret-key-for-tests" },
} satisfies Record<string, Key>;

interface Started {
  name: string;
  child: ChildProcess;
  log: string;
}

export class Layout {
  private readonly procs: Started[] = [];
  private weedHost = "";

  constructor(
    /** The third octet of this layout's addresses: <subnet>.<net>.x. */
    readonly net: number,
    readonly dir: string,
  ) {}

  ip(host: number): string {
    return `${SUBNET}.${this.net}.${host}`;
  }

  http(host: number): string {
    return `http://${this.ip(host)}:${HTTP_PORT}`;
  }

  grpc(host: number): string {
    return `${this.ip(host)}:${GRPC_PORT}`;
  }

  /** Starts a process and waits until `ready` answers 200; throws with its log's tail if it does not. */
  async start(
    name: string,
    binary: string,
    args: string[],
    ready: string | (() => Promise<boolean>),
    timeoutMs = 90_000,
    env: Record<string, string> = {},
  ): Promise<void> {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, "a");
    const child = spawn(binary, args, {
      stdio: ["ignore", fd, fd],
      cwd: this.dir,
      env: { ...process.env, ...env },
    });
    closeSync(fd);
    let spawnError: Error | undefined;
    child.on("error", (error) => {
      spawnError = error;
    });
    this.procs.push({ name, child, log });
    const client = fetchClient(2_000);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`${name}: ${binary} did not start: ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}${logTail(log)}`);
      const ok =
        typeof ready === "string"
          ? (await client(ready).catch(() => undefined))?.status === 200
          : await ready().catch(() => false);
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`${name} not ready at ${ready} in ${timeoutMs} ms${logTail(log)}`);
      await sleep(200);
    }
  }

  /** Stops every process it started (SIGTERM, then SIGKILL), by its own handle. */
  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        // A stopped process cannot act on SIGTERM.
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
        if (!killed) child.kill("SIGKILL");
      }),
    );
  }

  /** Sends a signal to one process it started, by its handle (SIGSTOP and SIGCONT make an endpoint flap). */
  signal(name: string, signal: NodeJS.Signals): void {
    const p = this.procs.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name} in this layout`);
    p.child.kill(signal);
  }

  /** One SeaweedFS server (master, volume, filer, S3) with the three test identities. */
  async startWeed(host: number): Promise<void> {
    this.weedHost = this.ip(host);
    const data = join(this.dir, "weed");
    await mkdir(data, { recursive: true });
    const identity = (name: string, key: Key, actions: string[]) => ({
      name,
      credentials: [key],
      actions,
    });
    const config = join(this.dir, "s3.json");
    await writeFile(
      config,
      JSON.stringify({
        identities: [
          identity("admin", KEYS.admin, ["Admin"]),
          identity("writer", KEYS.writer, ["Read", "Write", "List", "Tagging"]),
          identity("reader", KEYS.reader, ["Read", "List"]),
        ],
      }),
      { mode: 0o600 },
    );
    const g = WEED_GRPC_BASE + 4 * this.net;
    const ip = this.ip(host);
    await this.start(
      "weed",
      binaryPath("weed"),
      [
        "-logtostderr=true",
        "server",
        `-dir=${data}`,
        `-ip=${ip}`,
        `-ip.bind=${ip}`,
        "-master.peers=none",
        "-master.port=9333",
        `-master.port.grpc=${g}`,
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",
        "-volume.port=8080",
        `-volume.port.grpc=${g + 1}`,
        "-volume.max=0",
        "-volume.preStopSeconds=1",
        "-filer",
        "-filer.port=8888",
        `-filer.port.grpc=${g + 2}`,
        `-filer.localSocket=${data}/filer.sock`,
        "-s3",
        `-s3.port=${S3_PORT}`,
        `-s3.port.grpc=${g + 3}`,
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        `-s3.localSocket=${data}/s3.sock`,
        `-s3.config=${config}`,
      ],
      `http://${ip}:${S3_PORT}/healthz`,
    );
  }

  s3(bucket: string, key: Key): S3Access {
    return { url: `http://${this.weedHost}:${S3_PORT}`, bucket, ...key };
  }

  /** Creates a bucket with the admin key, retrying while the S3 gateway settles. */
  async bucket(name: string): Promise<void> {
    const admin = new S3Client(this.s3(name, KEYS.admin), fetchClient(5_000));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await admin.createBucket();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(300);
      }
    }
  }

  /** An objstore.yml for a bucket and key, written 0600. */
  async objstore(bucket: string, key: Key): Promise<string> {
    const file = join(this.dir, `objstore-${bucket}-${key.accessKey}.yml`);
    const yaml = [
      "type: S3",
      "config:",
      `  bucket: ${bucket}`,
      `  endpoint: ${this.weedHost}:${S3_PORT}`,
      `  access_key: ${key.accessKey}`,
      `  secret_key: ${key.secretKey}`,
      "  insecure: true",
      "",
    ].join("\n");
    await writeFile(file, yaml, { mode: 0o600 });
    return file;
  }

  /** Every key of a bucket with its ETag-like fingerprint (size and last modified), to prove nothing changed. */
  async snapshot(bucket: string): Promise<string[]> {
    const listing = await new S3Client(this.s3(bucket, KEYS.admin), fetchClient(5_000)).list();
    return listing.keys.map((k) => `${k.key} ${k.size} ${k.lastModified}`).sort();
  }

  /** PUT one object with a key; resolves to the HTTP status (the reader key's must be refused). */
  async put(access: S3Access, key: string, body: string): Promise<number> {
    const url = new URL(`${access.url}/${access.bucket}/${key}`);
    const payloadHash = createHash("sha256").update(body).digest("hex");
    const signed = signV4({
      method: "PUT",
      url,
      region: "us-east-1",
      accessKey: access.accessKey,
      secretKey: access.secretKey,
      date: new Date(),
      payloadHash,
    });
    const res = await fetch(url, { method: "PUT", headers: signed.headers, body });
    await res.text();
    return res.status;
  }

  /** A Prometheus with these external labels, scraping itself; its blocks are 2 h, as a sidecar that uploads needs. */
  async prometheus(host: number, name: string, externalLabels: Record<string, string>): Promise<void> {
    const config = join(this.dir, `${name}.yml`);
    const labels = Object.entries(externalLabels)
      .map(([k, v]) => `    ${k}: "${v}"`)
      .join("\n");
    await writeFile(
      config,
      `global:\n  scrape_interval: 5s\n  external_labels:\n${labels}\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ["${this.ip(host)}:9090"]\n`,
    );
    await this.start(
      name,
      binaryPath("prometheus"),
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(this.dir, `prom-${host}`)}`,
        `--web.listen-address=${this.ip(host)}:9090`,
        "--storage.tsdb.min-block-duration=2h",
        "--storage.tsdb.max-block-duration=2h",
      ],
      `http://${this.ip(host)}:9090/-/ready`,
    );
  }

  /** `thanos <component>` on its own address with the usual ports, and these environment variables added. */
  thanos(
    host: number,
    name: string,
    component: string,
    args: string[],
    ready: string | (() => Promise<boolean>) = `${this.http(host)}/-/ready`,
    env: Record<string, string> = {},
  ): Promise<void> {
    return this.start(
      name,
      binaryPath("thanos"),
      [
        component,
        `--http-address=${this.ip(host)}:${HTTP_PORT}`,
        ...(component === "compact" || component === "query-frontend"
          ? []
          : [`--grpc-address=${this.ip(host)}:${GRPC_PORT}`]),
        ...args,
      ],
      ready,
      90_000,
      env,
    );
  }

  sidecar(host: number, name: string, promHost: number, objstore?: string): Promise<void> {
    return this.thanos(host, name, "sidecar", [
      `--prometheus.url=http://${this.ip(promHost)}:9090`,
      `--tsdb.path=${join(this.dir, `prom-${promHost}`)}`,
      ...(objstore ? [`--objstore.config-file=${objstore}`] : []),
    ]);
  }

  /**
   * Blocks of one series over [start, end) written by promtool from OpenMetrics, then shipped to the bucket with
   * these external labels by `thanos tools bucket upload-blocks`, as a sidecar would have.
   */
  async uploadBlocks(
    name: string,
    objstore: string,
    labels: Record<string, string>,
    start: number,
    end: number,
  ): Promise<void> {
    const dir = join(this.dir, `blocks-${name}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const lines = ["# TYPE doctor_test gauge"];
    for (let t = start; t < end; t += 60_000) lines.push(`doctor_test{job="backfill"} 1 ${t / 1000}`);
    lines.push("# EOF", "");
    const input = join(this.dir, `${name}.om`);
    await writeFile(input, lines.join("\n"));
    await run(binaryPath("promtool"), ["tsdb", "create-blocks-from", "openmetrics", input, dir]);
    await run(binaryPath("thanos"), [
      "tools",
      "bucket",
      "upload-blocks",
      `--objstore.config-file=${objstore}`,
      `--path=${dir}`,
      ...Object.entries(labels).map(([k, v]) => `--label=${k}="${v}"`),
    ]);
  }

  async logOf(name: string): Promise<string> {
    return readFile(join(this.dir, `${name}.log`), "utf8").catch(() => "");
  }
}
