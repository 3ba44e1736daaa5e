// The checks on observations no local layout can produce (a second Thanos version, a clock off, Thanos versions that
// accepted short retentions), and the usage errors that stop doctor before it reads anything.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { doctorCommand } from "../commands/doctor.ts";
import { fetchClient } from "../net/http.ts";
import { nodeClient, readOnlyClient } from "../net/https.ts";
import type { BlockMeta, StoreEntry } from "../probes/thanos.ts";
import { overlaps } from "./checks/bucket.ts";
import { diagnose } from "./doctor.ts";
import { parseArgs } from "./kube.ts";
import { kindOf, readComponent, s3AccessFrom, sampleStores } from "./observe.ts";
import type { Component, Observation } from "./types.ts";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const HOUR = 3_600_000;

function component(url: string, kind: Component["kind"], extra: Partial<Component> = {}): Component {
  return { url, kind, samples: [], ...extra };
}

function observation(extra: Partial<Observation> = {}, stores: StoreEntry[] = []): Observation {
  return {
    now: NOW,
    query: { ...component("http://q", "query", { version: "0.42.4" }), stores },
    dedup: [],
    components: [],
    ...extra,
  };
}

const shipper = { name: "thanos_shipper_uploads_total", labels: {}, value: 3 };
const ids = (o: Observation) => diagnose(o).map((f) => `${f.severity} ${f.id}`);

function block(ulid: string, minH: number, maxH: number, sources?: string[]): BlockMeta {
  return {
    ulid,
    minTime: NOW - minH * HOUR,
    maxTime: NOW - maxH * HOUR,
    labels: { cluster: "a" },
    level: sources ? 2 : 1,
    resolution: 0,
    uploadedAt: NOW,
    ...(sources ? { sources } : {}),
  };
}

describe("doctor's checks", () => {
  it("finds nothing in an empty observation", () => {
    assert.deepEqual(ids(observation()), []);
  });

  it("names version skew between Thanos components, not between Thanos and Prometheus", () => {
    const o = observation({
      components: [
        component("http://s", "sidecar", { version: "0.35.1", samples: [shipper] }),
        component("http://p", "prometheus", { version: "3.14.0" }),
      ],
    });
    const [finding] = diagnose(o);
    assert.equal(finding?.id, "version-skew");
    assert.match(finding?.title ?? "", /0\.42, 0\.35/);
    const patch = observation({
      components: [component("http://s", "sidecar", { version: "0.42.1", samples: [shipper] })],
    });
    assert.deepEqual(ids(patch), []);
  });

  it("names a component whose clock is off by more than 30 s", () => {
    const o = observation({ components: [component("http://c", "compact", { clockSkewMs: -95_000 })] });
    assert.deepEqual(ids(o), ["warning clock-skew"]);
    assert.match(diagnose(o)[0]?.evidence[0] ?? "", /-95 s/);
  });

  it("names retentions shorter than downsampling needs (Thanos before 0.32 accepted them)", () => {
    const flags = {
      "retention.resolution-raw": "1d",
      "retention.resolution-5m": "7d",
      "retention.resolution-1h": "0s",
    };
    const o = observation({ components: [component("http://c", "compact", { flags })] });
    assert.deepEqual(ids(o), ["error retention-raw-short", "error retention-5m-short"]);
  });

  it("tells overlapping blocks from a compacted block and the sources it still shadows", () => {
    assert.equal(overlaps([block("A", 10, 8), block("B", 9, 7)]).length, 1);
    assert.equal(overlaps([block("A", 10, 8), block("C", 10, 6, ["A", "B"])]).length, 0);
    assert.equal(overlaps([block("A", 10, 8), block("B", 8, 6)]).length, 0);
  });

  it("names raw blocks a compactor should have merged a day ago", () => {
    const day = 24 * HOUR;
    const window = Math.floor((NOW - 3 * day) / (8 * HOUR)) * 8 * HOUR;
    const raw = (ulid: string, start: number): BlockMeta => ({
      ...block(ulid, 0, 0),
      minTime: start,
      maxTime: start + 2 * HOUR,
    });
    const old = observation({
      bucket: { name: "s3://b", blocks: [raw("A", window), raw("B", window + 2 * HOUR)] },
    });
    assert.deepEqual(ids(old), ["warning blocks-uncompacted"]);
    const recent = NOW - 4 * HOUR;
    const fresh = observation({
      bucket: { name: "s3://b", blocks: [raw("A", recent), raw("B", recent + 2 * HOUR)] },
    });
    assert.deepEqual(ids(fresh), []);
  });

  it("names a sidecar that stopped uploading long ago and has no block at all", () => {
    const sidecar: StoreEntry = {
      type: "sidecar",
      name: "s:10901",
      lastError: null,
      labelSets: [{ cluster: "a", prometheus_replica: "0" }],
      minTime: NOW - 20 * HOUR,
      maxTime: NOW,
    };
    const o = observation({ bucket: { name: "s3://b", blocks: [] } }, [sidecar]);
    assert.deepEqual(ids(o), ["error uploads-stalled"]);
  });

  it("names a sidecar that serves no external labels (older sidecars started without them)", () => {
    const entry = (name: string, labels: Record<string, string>): StoreEntry => ({
      type: "sidecar",
      name,
      lastError: null,
      labelSets: [labels],
      minTime: NOW - HOUR,
      maxTime: NOW,
    });
    const o = observation({}, [entry("a:10901", { cluster: "a" }), entry("b:10901", {})]);
    assert.deepEqual(ids(o), ["error sidecar-no-external-labels"]);
  });

  it("asks a cluster label of what Prometheus scraped, not of a ruler evaluating over the global view", () => {
    const entry = (type: string, name: string, labels: Record<string, string>): StoreEntry => ({
      type,
      name,
      lastError: null,
      labelSets: [labels],
      minTime: NOW - HOUR,
      maxTime: NOW,
    });
    const ruler = entry("rule", "r:10901", { ruler_replica: "thanos-ruler-0" });
    const sidecar = entry("sidecar", "s:10901", { cluster: "a", prometheus_replica: "0" });
    assert.deepEqual(ids(observation({}, [sidecar, ruler])), []);
    const bare = entry("sidecar", "x:10901", { prometheus_replica: "1" });
    assert.deepEqual(ids(observation({}, [sidecar, ruler, bare])), ["error no-cluster-label"]);
  });

  it("calls an endpoint flapping after two changes in the window, and one change by its last state", () => {
    const entry = (lastError: string | null): StoreEntry => ({
      type: "sidecar",
      name: "s:10901",
      lastError,
      labelSets: [{ cluster: "a" }],
      minTime: 0,
      maxTime: 0,
    });
    const sampled = (...states: (string | null)[]) => {
      const storeSamples = states.map((e, i) => ({ at: NOW + i * 1000, entries: [entry(e)] }));
      return observation({
        query: {
          ...component("http://q", "query"),
          stores: storeSamples.at(-1)?.entries ?? [],
          storeSamples,
        },
      });
    };
    assert.deepEqual(ids(sampled(null, "deadline exceeded", null)), ["error store-flapping"]);
    assert.deepEqual(ids(sampled(null, "deadline exceeded", null, "deadline exceeded")), [
      "error store-flapping",
    ]);
    assert.deepEqual(ids(sampled(null, null, "connection refused")), ["error store-unhealthy"]);
    assert.deepEqual(ids(sampled(null, null, null)), []);
  });

  it("names a store gateway at its GOMEMLIMIT with the bucket's index sizes, not one without a limit", () => {
    const store = (limit: number, rss: number) =>
      component("http://s", "store", {
        samples: [
          { name: "go_gc_gomemlimit_bytes", labels: {}, value: limit },
          { name: "process_resident_memory_bytes", labels: {}, value: rss },
        ],
      });
    const bucket = { name: "s3://b", blocks: [{ ...block("A", 4, 2), indexBytes: 3 * 2 ** 20 }] };
    const over = diagnose(observation({ components: [store(100 * 2 ** 20, 95 * 2 ** 20)], bucket }));
    assert.deepEqual(
      over.map((f) => f.id),
      ["store-memory-over-limit"],
    );
    assert.match(over[0]?.evidence.at(-1) ?? "", /1 block\(s\) with 3 MiB of index files/);
    assert.deepEqual(ids(observation({ components: [store(100 * 2 ** 20, 50 * 2 ** 20)] })), []);
    assert.deepEqual(ids(observation({ components: [store(2 ** 63, 500 * 2 ** 20)] })), []);
  });

  it("watches query's endpoints over its window, and keeps what it read when a later read fails", async () => {
    let reads = 0;
    const http = async () => {
      reads++;
      if (reads > 2) throw new Error("connection reset");
      return { status: 200, headers: {}, body: JSON.stringify({ status: "success", data: { sidecar: [] } }) };
    };
    const first = { at: Date.now(), entries: [] };
    const samples = await sampleStores(http, "http://q", first, 400, 50);
    assert.equal(samples.length, 3);
    assert.equal(samples[0], first);
    const once = await sampleStores(http, "http://q", first, 0, 50);
    assert.deepEqual(once, [first]);
  });

  it("reads a component's clock from the Date header of its answer", async () => {
    const server = createServer((_req, res) => {
      // A host whose clock runs 2 minutes ahead.
      res.setHeader("date", new Date(Date.now() + 120_000).toUTCString());
      res.end('thanos_build_info{version="0.42.4"} 1\nthanos_compact_halted 0\n');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const c = await readComponent(fetchClient(5_000), `http://127.0.0.1:${port}`);
      assert.equal(c.kind, "compact");
      assert.ok(Math.abs((c.clockSkewMs ?? 0) - 120_000) < 2_000, String(c.clockSkewMs));
      assert.deepEqual(ids(observation({ components: [c] })), ["warning clock-skew"]);
    } finally {
      server.close();
    }
  });

  it("tells component kinds by the metrics only they expose", () => {
    const sample = (name: string) => ({ name, labels: {}, value: 1 });
    assert.equal(kindOf([sample("thanos_build_info"), sample("thanos_compact_halted")]), "compact");
    assert.equal(kindOf([sample("thanos_build_info"), sample("thanos_sidecar_prometheus_up")]), "sidecar");
    assert.equal(kindOf([sample("prometheus_build_info")]), "prometheus");
  });
});

describe("doctor's inputs", () => {
  it("reads an S3 objstore.yml, and names the field that is missing", () => {
    const access = s3AccessFrom(
      {
        type: "s3",
        config: { bucket: "b", endpoint: "h:9000", access_key: "k", secret_key: "s", insecure: true },
      },
      "o.yml",
    );
    assert.equal(access.url, "http://h:9000");
    assert.throws(
      () => s3AccessFrom({ type: "S3", config: { bucket: "b" } }, "o.yml"),
      /o\.yml: config\.endpoint/,
    );
    assert.throws(() => s3AccessFrom({ type: "GCS", config: {} }, "o.yml"), /S3 buckets only/);
  });

  it("reads a container's args as the flags API shows them", () => {
    assert.deepEqual(
      parseArgs([
        "query",
        "--query.timeout=1m",
        "--store.response-timeout",
        "30s",
        "--no-query.auto-downsampling",
        "--query.replica-label=a",
        "--query.replica-label=b",
        "--log.format=json",
        "--web.disable-cors",
      ]),
      {
        "query.timeout": "1m",
        "store.response-timeout": "30s",
        "query.auto-downsampling": "false",
        "query.replica-label": "a,b",
        "log.format": "json",
        "web.disable-cors": "true",
      },
    );
  });

  it("refuses every method but GET and HEAD", async () => {
    const client = readOnlyClient(async () => ({ status: 200, headers: {}, body: "" }));
    assert.equal((await client("http://x", { method: "HEAD" })).status, 200);
    await assert.rejects(client("http://x", { method: "PUT" }), /refusing PUT/);
    await assert.rejects(client("http://x", { method: "DELETE" }), /refusing DELETE/);
  });

  it("sends the bearer token from its file, and nothing on the command line holds it", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? "");
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const client = nodeClient({ timeoutMs: 5_000, authorization: "Bearer t0k3n" });
      assert.equal((await client(`http://127.0.0.1:${port}/`)).body, "ok");
      assert.deepEqual(seen, ["Bearer t0k3n"]);
    } finally {
      server.close();
    }
  });

  const usage = async (opts: Parameters<typeof doctorCommand>[0]) => {
    const err: string[] = [];
    const io = { stdout: { write: () => true }, stderr: { write: (t: string) => err.push(t) } };
    return { code: await doctorCommand(opts, { io }), err: err.join("") };
  };

  it("exits 2 with the reason on bad input, before reading anything", async () => {
    assert.deepEqual(await usage({ query: "q:9090" }), {
      code: 2,
      err: "--query q:9090 is not an http(s) URL: give one such as http://thanos-query:9090\n",
    });
    const both = await usage({ query: "http://q", basicAuthFile: "a", bearerTokenFile: "b" });
    assert.match(both.err, /exclude each other/);
    assert.match((await usage({ query: "http://q", certFile: "c" })).err, /go together/);
    assert.match(
      (await usage({ query: "http://q", bucket: "/nonexistent/o.yml" })).err,
      /--bucket \/nonexistent/,
    );
    assert.match(
      (await usage({ query: "http://q", context: ["no-such-context"] })).err,
      /--context no-such-context/,
    );
    assert.match(
      (await usage({ query: "http://q", watch: "5" })).err,
      /--watch '5' is not a duration: use a number with a unit/,
    );
  });

  it("is a verb of the CLI: a query that does not answer exits 2 and says why", async () => {
    const cli = join(import.meta.dirname, "..", "cli.ts");
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", cli, "doctor", "--query", "http://127.106.0.250:10902"],
        (error, _stdout, stderr) => resolve({ code: error ? (error as { code: number }).code : 0, stderr }),
      );
    });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /doctor could not read query at http:\/\/127\.106\.0\.250:10902: connection refused/,
    );
  });
});
