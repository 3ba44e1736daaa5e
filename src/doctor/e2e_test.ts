// doctor on hand-made Thanos layouts, started straight from the binaries (not through the fleet's specs): a correct
// layout, and beside it the processes that each plant one mistake. Doctor must name exactly that mistake.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { KEYS, Layout } from "../../testing/doctor/layout.ts";
import { tempDir } from "../../testing/tempdir.ts";
import { doctorClient, doctorCommand } from "../commands/doctor.ts";
import { fetchClient } from "../net/http.ts";
import { readOnlyClient } from "../net/https.ts";
import { metricValue, parseMetrics } from "../probes/metrics.ts";
import { instantQuery, readStores } from "../probes/thanos.ts";
import { runDoctor } from "./doctor.ts";
import type { DoctorReport } from "./types.ts";

const run = promisify(execFile);
const HOUR = 3_600_000;
const http = readOnlyClient(fetchClient(15_000));

// Hosts of the layout on <subnet>.1.x.
const WEED = 2;
const PROM = { a0: 10, a1: 12, b0: 14, x: 17 };
const SIDECAR = { a0: 11, a1: 13, b0: 15, b0Again: 16, x: 18 };
const STORE = 20;
const COMPACT = 21;
const QUERY = 22;
const STORE_NO_LIMITS = 23;
const COMPACT_SECOND = 24;
const COMPACT_OVERLAP = 25;
const COMPACT_RETENTION = 26;
const STORE_MEMORY = 27;
const Q = {
  noReplicaLabel: 30,
  dedupOnCluster: 31,
  noAutoDownsampling: 32,
  timeouts: 34,
  deadEndpoint: 35,
  listedTwice: 36,
  sameLabels: 37,
  noClusterLabel: 38,
  flapping: 39,
  tls: 40,
};
/** A query with no endpoints of its own, one of Q.flapping's endpoints: paused and resumed, it flaps. */
const FLAPPER = 41;
const QF = { ok: 50, unaligned: 51, freshness: 52 };

const layout = new Layout(1, await tempDir("doctor-layout-"));
const files: Record<string, string> = {};

/** Findings worth acting on: errors and warnings, by id. */
function named(report: DoctorReport): string[] {
  return report.findings.filter((f) => f.severity !== "info").map((f) => f.id);
}

/**
 * Doctor on one query, reading these components (hosts, or URLs) and this bucket with the read-only key, watching
 * query's endpoints for watchMs.
 */
function doctor(
  query: number,
  opts: { bucket?: string; metrics?: (number | string)[]; watchMs?: number } = {},
) {
  return runDoctor(http, {
    query: layout.http(query),
    metrics: (opts.metrics ?? []).map((h) => (typeof h === "number" ? layout.http(h) : h)),
    ...(opts.bucket ? { bucket: layout.s3(opts.bucket, KEYS.reader) } : {}),
    ...(opts.watchMs ? { storesWindowMs: opts.watchMs, storesIntervalMs: 500 } : {}),
  });
}

/**
 * Pauses and resumes a process every 3 s while `during` runs, and leaves it running: query's check of a paused
 * endpoint fails once its 1 s timeout has passed, about 2 s into the pause.
 */
async function flapping<T>(name: string, during: () => Promise<T>): Promise<T> {
  let paused = false;
  const timer = setInterval(() => {
    paused = !paused;
    layout.signal(name, paused ? "SIGSTOP" : "SIGCONT");
  }, 3000);
  try {
    return await during();
  } finally {
    clearInterval(timer);
    layout.signal(name, "SIGCONT");
  }
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(500);
  }
}

/** Query knows these endpoints, healthy, and serves series of each. */
async function settled(query: number, healthy: number): Promise<void> {
  await waitFor(`query ${query} to see ${healthy} healthy endpoints with data`, async () => {
    const stores = await readStores(http, layout.http(query));
    const live = stores.filter((s) => !s.lastError && (s.type === "store" || s.minTime < Date.now()));
    if (live.length < healthy) return false;
    const data = await instantQuery(
      http,
      layout.http(query),
      'count by (prometheus_replica) ({__name__="up"})',
      {
        dedup: "false",
      },
    );
    return data.result.length > 0;
  });
}

const baseQueryArgs = (endpoints: number[]) => [
  ...endpoints.map((h) => `--endpoint=${layout.grpc(h)}`),
  "--query.replica-label=prometheus_replica",
  "--query.auto-downsampling",
];
const BASE_ENDPOINTS = [SIDECAR.a0, SIDECAR.a1, SIDECAR.b0, STORE];
const LIMITS = ["--store.limits.request-series=1000000", "--store.limits.request-samples=100000000"];

before(
  async () => {
    await layout.startWeed(WEED);
    for (const b of ["base", "overlap", "gap", "retention"]) await layout.bucket(b);
    for (const b of ["base", "overlap", "gap", "retention"]) files[b] = await layout.objstore(b, KEYS.writer);

    // History planted in the bucket as a sidecar would have shipped it.
    const block = Math.floor(Date.now() / (2 * HOUR)) * 2 * HOUR - 12 * HOUR;
    const z = { cluster: "z", prometheus_replica: "0" };
    await layout.uploadBlocks("overlap-1", files.overlap as string, z, block, block + 2 * HOUR - 60_000);
    await layout.uploadBlocks(
      "overlap-2",
      files.overlap as string,
      z,
      block + HOUR,
      block + 2 * HOUR - 60_000,
    );
    // A block of a source no sidecar here serves: the store memory case reads its index size from its meta.json.
    await layout.uploadBlocks("elsewhere", files.retention as string, z, block, block + 2 * HOUR - 60_000);
    const b0 = { cluster: "b", prometheus_replica: "0" };
    await layout.uploadBlocks("gap", files.gap as string, b0, block, block + 2 * HOUR - 60_000);

    await Promise.all([
      layout.prometheus(PROM.a0, "prom-a0", { cluster: "a", prometheus_replica: "0" }),
      layout.prometheus(PROM.a1, "prom-a1", { cluster: "a", prometheus_replica: "1" }),
      layout.prometheus(PROM.b0, "prom-b0", b0),
      layout.prometheus(PROM.x, "prom-x", { prometheus_replica: "0" }),
    ]);
    await Promise.all([
      layout.sidecar(SIDECAR.a0, "sidecar-a0", PROM.a0, files.base),
      layout.sidecar(SIDECAR.a1, "sidecar-a1", PROM.a1, files.base),
      layout.sidecar(SIDECAR.b0, "sidecar-b0", PROM.b0, files.base),
      layout.sidecar(SIDECAR.b0Again, "sidecar-b0-again", PROM.b0),
      layout.sidecar(SIDECAR.x, "sidecar-x", PROM.x),
      // The correct store gateway has a GOMEMLIMIT its memory is far from.
      layout.thanos(
        STORE,
        "store",
        "store",
        [`--data-dir=${join(layout.dir, "store")}`, `--objstore.config-file=${files.base}`, ...LIMITS],
        `${layout.http(STORE)}/-/ready`,
        { GOMEMLIMIT: "1GiB" },
      ),
      layout.thanos(STORE_NO_LIMITS, "store-no-limits", "store", [
        `--data-dir=${join(layout.dir, "store-no-limits")}`,
        `--objstore.config-file=${files.base}`,
      ]),
      // A store gateway's resident memory alone (about 60 MiB here) is beyond a GOMEMLIMIT of 32 MiB.
      layout.thanos(
        STORE_MEMORY,
        "store-memory",
        "store",
        [`--data-dir=${join(layout.dir, "store-memory")}`, `--objstore.config-file=${files.base}`, ...LIMITS],
        `${layout.http(STORE_MEMORY)}/-/ready`,
        { GOMEMLIMIT: "32MiB" },
      ),
      ...(
        [
          [COMPACT, "compact", "base", []],
          [COMPACT_SECOND, "compact-second", "base", []],
          [COMPACT_OVERLAP, "compact-overlap", "overlap", ["--consistency-delay=0s"]],
          [
            COMPACT_RETENTION,
            "compact-retention",
            "retention",
            ["--retention.resolution-raw=2d", "--retention.resolution-5m=30d"],
          ],
        ] as const
      ).map(([host, name, bucket, extra]) =>
        layout.thanos(host, name, "compact", [
          `--data-dir=${join(layout.dir, name)}`,
          `--objstore.config-file=${files[bucket]}`,
          "--wait",
          "--wait-interval=1m",
          ...extra,
        ]),
      ),
    ]);
    const query = (host: number, name: string, args: string[]) => layout.thanos(host, name, "query", args);
    await Promise.all([
      query(QUERY, "query", baseQueryArgs(BASE_ENDPOINTS)),
      query(Q.noReplicaLabel, "query-no-replica-label", [
        ...BASE_ENDPOINTS.map((h) => `--endpoint=${layout.grpc(h)}`),
        "--query.auto-downsampling",
      ]),
      query(Q.dedupOnCluster, "query-dedup-on-cluster", [
        ...baseQueryArgs(BASE_ENDPOINTS),
        "--query.replica-label=cluster",
      ]),
      query(Q.noAutoDownsampling, "query-no-auto-downsampling", [
        ...BASE_ENDPOINTS.map((h) => `--endpoint=${layout.grpc(h)}`),
        "--query.replica-label=prometheus_replica",
      ]),
      query(Q.timeouts, "query-timeouts", [
        ...baseQueryArgs(BASE_ENDPOINTS),
        "--query.timeout=10s",
        "--store.response-timeout=30s",
      ]),
      query(Q.deadEndpoint, "query-dead-endpoint", [
        ...baseQueryArgs(BASE_ENDPOINTS),
        `--endpoint=${layout.grpc(99)}`,
      ]),
      query(Q.listedTwice, "query-listed-twice", [
        ...baseQueryArgs(BASE_ENDPOINTS),
        `--endpoint=${layout.grpc(SIDECAR.b0)}`,
      ]),
      query(Q.sameLabels, "query-same-labels", baseQueryArgs([...BASE_ENDPOINTS, SIDECAR.b0Again])),
      query(Q.noClusterLabel, "query-no-cluster-label", baseQueryArgs([...BASE_ENDPOINTS, SIDECAR.x])),
      query(FLAPPER, "flapper", []),
    ]);
    // Query checks its endpoints every --endpoint.info-timeout (5 s unless set): every second here, so a process
    // paused for 3 s fails a check, and answers the next one once resumed.
    await query(Q.flapping, "query-flapping", [
      ...baseQueryArgs([...BASE_ENDPOINTS, FLAPPER]),
      "--endpoint.info-timeout=1s",
    ]);
    const cacheFile = join(layout.dir, "frontend-cache.yml");
    await writeFile(cacheFile, "type: IN-MEMORY\nconfig:\n  max_size: 64MB\n");
    const frontend = (host: number, name: string, args: string[]) =>
      layout.thanos(host, name, "query-frontend", [
        `--query-frontend.downstream-url=${layout.http(QUERY)}`,
        `--query-range.response-cache-config-file=${cacheFile}`,
        ...args,
      ]);
    await Promise.all([
      frontend(QF.ok, "frontend", []),
      frontend(QF.unaligned, "frontend-unaligned", ["--no-query-range.align-range-with-step"]),
      frontend(QF.freshness, "frontend-freshness", ["--query-range.response-cache-max-freshness=6h"]),
    ]);
    await Promise.all([
      settled(QUERY, 4),
      settled(Q.noReplicaLabel, 4),
      settled(Q.dedupOnCluster, 4),
      settled(Q.noAutoDownsampling, 4),
      settled(Q.timeouts, 4),
      settled(Q.deadEndpoint, 4),
      settled(Q.listedTwice, 4),
      settled(Q.sameLabels, 5),
      settled(Q.noClusterLabel, 5),
      settled(Q.flapping, 4),
      // A sidecar reports its Prometheus's oldest sample once its shipper has looked (every 30 s), else year 1.
      waitFor("the sidecars to report their oldest sample", async () => {
        const stores = await readStores(http, layout.http(QUERY));
        return stores.filter((s) => s.type === "sidecar" && s.minTime > 0).length === 3;
      }),
      waitFor("the compactor to halt on the overlapping blocks", async () => {
        const res = await http(`${layout.http(COMPACT_OVERLAP)}/metrics`);
        return metricValue(parseMetrics(res.body), "thanos_compact_halted") === 1;
      }),
    ]);
  },
  { timeout: 300_000 },
);

after(() => layout.stop());

describe("doctor on hand-made layouts", { timeout: 120_000 }, () => {
  it("finds nothing on the correct layout, watching its endpoints for 3 s", async () => {
    const report = await doctor(QUERY, {
      bucket: "base",
      metrics: [PROM.a0, PROM.a1, PROM.b0]
        .map((h) => `http://${layout.ip(h)}:9090`)
        .concat([SIDECAR.a0, SIDECAR.a1, SIDECAR.b0, STORE, COMPACT, QF.ok].map((h) => layout.http(h))),
      watchMs: 3000,
    });
    assert.deepEqual(named(report), [], JSON.stringify(report.findings, null, 2));
    assert.equal(report.read.length, 1 + 9 + 1, report.read.join("\n"));
  });

  const cases: { mistake: string; id: string; run: () => Promise<DoctorReport> }[] = [
    {
      mistake: "two sidecars serve identical external labels",
      id: "store-duplicate-labels",
      run: () => doctor(Q.sameLabels),
    },
    {
      mistake: "query does not deduplicate on the replica label",
      id: "replica-not-deduplicated",
      run: () => doctor(Q.noReplicaLabel),
    },
    {
      mistake: "query deduplicates on the label that tells clusters apart",
      id: "dedup-merges-clusters",
      run: () => doctor(Q.dedupOnCluster),
    },
    {
      mistake: "a Prometheus without a cluster label",
      id: "no-cluster-label",
      run: () => doctor(Q.noClusterLabel),
    },
    {
      mistake: "overlapping blocks in the bucket",
      id: "blocks-overlap",
      run: () => doctor(QUERY, { bucket: "overlap" }),
    },
    {
      mistake: "the compactor halted",
      id: "compactor-halted",
      run: () => doctor(QUERY, { bucket: "overlap", metrics: [COMPACT_OVERLAP] }),
    },
    {
      mistake: "two compactors on one bucket",
      id: "compactors-share-bucket",
      run: () => doctor(QUERY, { metrics: [COMPACT, COMPACT_SECOND] }),
    },
    {
      mistake: "raw retention shorter than the downsampled, and query reads raw data only",
      id: "no-auto-downsampling",
      run: () => doctor(Q.noAutoDownsampling, { metrics: [COMPACT_RETENTION] }),
    },
    {
      mistake: "query without auto-downsampling",
      id: "no-auto-downsampling",
      run: () => doctor(Q.noAutoDownsampling, { metrics: [COMPACT] }),
    },
    {
      mistake: "a gap between the sidecar's data and the bucket's newest block",
      id: "upload-gap",
      run: () => doctor(QUERY, { bucket: "gap" }),
    },
    {
      mistake: "a sidecar that uploads nothing",
      id: "sidecar-not-uploading",
      run: () => doctor(QUERY, { metrics: [SIDECAR.b0Again] }),
    },
    {
      mistake: "query's timeout shorter than its store timeout",
      id: "query-timeout-below-store-timeout",
      run: () => doctor(Q.timeouts),
    },
    {
      mistake: "a store gateway without limits",
      id: "store-no-limits",
      run: () => doctor(QUERY, { metrics: [STORE_NO_LIMITS] }),
    },
    {
      mistake: "a store gateway whose memory has outgrown its GOMEMLIMIT",
      id: "store-memory-over-limit",
      run: async () => {
        const report = await doctor(QUERY, { bucket: "retention", metrics: [STORE_MEMORY] });
        assert.match(
          report.findings[0]?.evidence.at(-1) ?? "",
          /1 block\(s\) with \d+ (B|KiB|MiB) of index files/,
        );
        return report;
      },
    },
    {
      mistake: "an endpoint nothing answers at",
      id: "store-unhealthy",
      run: () => doctor(Q.deadEndpoint),
    },
    {
      mistake: "an endpoint listed twice",
      id: "store-listed-twice",
      run: () => doctor(Q.listedTwice),
    },
    {
      mistake: "an endpoint that answers, fails and answers again while doctor watches",
      id: "store-flapping",
      run: () => flapping("flapper", () => doctor(Q.flapping, { watchMs: 12_000 })),
    },
    {
      mistake: "a query-frontend that caches range queries without aligning them to their step",
      id: "frontend-unaligned-cache",
      run: () => doctor(QUERY, { metrics: [QF.unaligned] }),
    },
    {
      mistake: "a query-frontend whose results cache max freshness leaves nothing cacheable",
      id: "frontend-cache-bypassed",
      run: () => doctor(QUERY, { metrics: [QF.freshness] }),
    },
  ];
  for (const c of cases) {
    it(`names ${c.id}: ${c.mistake}`, async () => {
      const report = await c.run();
      assert.deepEqual(named(report), [c.id], JSON.stringify(report.findings, null, 2));
    });
  }

  it("raw retention short of the downsampled makes missing auto-downsampling an error, not a warning", async () => {
    const withShortRaw = await doctor(Q.noAutoDownsampling, { metrics: [COMPACT_RETENTION] });
    const alone = await doctor(Q.noAutoDownsampling, { metrics: [COMPACT] });
    assert.equal(withShortRaw.findings[0]?.severity, "error");
    assert.equal(alone.findings[0]?.severity, "warning");
  });

  it("reads the bucket with a key that can only read, and changes nothing", async () => {
    const reader = layout.s3("overlap", KEYS.reader);
    assert.equal(await layout.put(reader, "probe", "x"), 403, "the reader key must not be allowed to write");
    const before = await layout.snapshot("overlap");
    const report = await doctor(QUERY, { bucket: "overlap", metrics: [COMPACT_OVERLAP] });
    assert.match(report.read.at(-1) ?? "", /2 block\(s\)/);
    assert.deepEqual(await layout.snapshot("overlap"), before);
  });

  it("exits 0 on the correct layout, 1 on a mistake, 2 when query does not answer", async () => {
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
    };
    assert.equal(await doctorCommand({ query: layout.http(QUERY) }, { io }), 0, out.join(""));
    assert.equal(await doctorCommand({ query: layout.http(Q.sameLabels), json: true }, { io }), 1);
    assert.equal(JSON.parse(out.at(-1) ?? "").findings[0].id, "store-duplicate-labels");
    // Pointed at a thanos-fleet state dir: the fleet's bucket key and its components, when none are given.
    const fleet = async () => ({
      runtime: "local" as const,
      targets: [
        ...[STORE, COMPACT].map((h) => ({
          cluster: "mgmt",
          component: "store" as const,
          pod: "p",
          url: layout.http(h),
        })),
        // Not a component doctor reads: the S3 API answers /metrics with 403.
        {
          cluster: "storage",
          component: "object-store" as const,
          pod: "s",
          url: layout.s3("base", KEYS.reader).url,
        },
      ],
      queryFrontend: layout.http(QUERY),
      objectStore: layout.s3("base", KEYS.reader),
    });
    out.length = 0;
    assert.equal(
      await doctorCommand({ query: layout.http(QUERY), json: true }, { io, fleet }),
      0,
      out.join(""),
    );
    assert.deepEqual(JSON.parse(out.join("")).read.slice(1), [
      `${layout.http(STORE)}: store 0.42.4`,
      `${layout.http(COMPACT)}: compact 0.42.4`,
      `s3://base at ${layout.s3("base", KEYS.reader).url}: 0 block(s)`,
    ]);
    assert.equal(await doctorCommand({ query: layout.http(98) }, { io }), 2);
    assert.ok((out.at(-1) ?? "").includes(`doctor could not read query at ${layout.http(98)}`), out.at(-1));
  });
});

describe("doctor behind TLS, a client certificate and basic auth", { timeout: 180_000 }, () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("doctor-tls-");
    const ssl = (args: string[]) => run("openssl", args, { cwd: dir });
    await ssl(
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=doctor-test-ca"].concat([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
      ]),
    );
    for (const [name, ext] of [
      ["server", `subjectAltName=IP:${layout.ip(Q.tls)}`],
      ["client", "extendedKeyUsage=clientAuth"],
    ] as const) {
      await ssl([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      ]);
      await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
      await ssl(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat(
          ["-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`],
        ),
      );
    }
    // Prometheus's documented example hash of the password "test" (bcrypt).
    await writeFile(
      join(dir, "web.yml"),
      [
        "tls_server_config:",
        `  cert_file: ${join(dir, "server.crt")}`,
        `  key_file: ${join(dir, "server.key")}`,
        "  client_auth_type: RequireAndVerifyClientCert",
        `  client_ca_file: ${join(dir, "ca.crt")}`,
        "basic_auth_users:",
        "  doctor: $2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay",
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, "basic-auth"), "doctor:test\n", { mode: 0o600 });
    const client = await doctorClient(tlsOptions());
    await layout.thanos(
      Q.tls,
      "query-tls",
      "query",
      [...baseQueryArgs(BASE_ENDPOINTS), `--http.config=${join(dir, "web.yml")}`],
      async () => (await client(`${tlsOptions().query}/-/ready`)).status === 200,
    );
  });

  const tlsOptions = () => ({
    query: `https://${layout.ip(Q.tls)}:10902`,
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "client.crt"),
    keyFile: join(dir, "client.key"),
    basicAuthFile: join(dir, "basic-auth"),
  });

  it("reads a query behind TLS with the CA, the client certificate and basic auth from files", async () => {
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
    };
    let code = 2;
    await waitFor("the TLS query to answer doctor", async () => {
      out.length = 0;
      code = await doctorCommand({ ...tlsOptions(), json: true }, { io });
      return code !== 2 && JSON.parse(out.join("")).read[0].includes("4 StoreAPI");
    });
    assert.equal(code, 0, out.join(""));
  });

  it("cannot run without the password, and says why", async () => {
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
    };
    const { basicAuthFile: _, ...noAuth } = tlsOptions();
    assert.equal(await doctorCommand(noAuth, { io }), 2);
    assert.match(out.join(""), /answered 401/);
  });
});
