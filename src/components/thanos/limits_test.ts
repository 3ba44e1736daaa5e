// The query path's limits each profile gets, as args and environment of the specs both runtimes realise.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { resolveBinary } from "../../binaries/resolve.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import type { SpecContext } from "../context.ts";
import { buildFleet } from "../fleet.ts";
import { TEST_ADDRESSES, TEST_CREDENTIALS, testContext } from "../testdata/spec.ts";
import type { Container } from "../types.ts";

const creds = TEST_CREDENTIALS;
const _addresses = TEST_ADDRESSES;

function containers(profile: string): Map<string, Container> {
  const topology = parseFleet({ ...DEFAULT_FLEET, profile }, "test");
  const ctx: SpecContext = testContext(topology, { demoScript: "demo.js" });
  const fleet = buildFleet(topology, ctx, creds);
  const out = new Map<string, Container>();
  for (const pod of fleet.pods.filter((p) => p.cluster === topology.observer.name)) {
    for (const c of pod.containers) out.set(c.name, c);
  }
  return out;
}

function flag(c: Container | undefined, name: string): string | undefined {
  const arg = c?.args.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

const PROFILES = [
  {
    profile: "small",
    concurrent: "2",
    parallelism: "4",
    shards: "4",
    series: "8",
    query: "409MiB",
    frontend: "204MiB",
    store: "819MiB",
  },
  {
    profile: "medium",
    concurrent: "8",
    parallelism: "16",
    shards: "7",
    series: "32",
    query: "1638MiB",
    frontend: "819MiB",
    store: "3276MiB",
  },
  {
    profile: "large",
    concurrent: "32",
    parallelism: "64",
    shards: "7",
    series: "128",
    query: "6553MiB",
    frontend: "3276MiB",
    store: "13107MiB",
  },
];

describe("the query path's limits, per profile", () => {
  for (const want of PROFILES) {
    test(want.profile, () => {
      const c = containers(want.profile);
      const query = c.get("thanos-query");
      const frontend = c.get("thanos-query-frontend");
      const store = c.get("thanos-store");
      assert.equal(flag(query, "query.max-concurrent"), want.concurrent);
      assert.equal(flag(query, "query.timeout"), "15s");
      // query-frontend sends no more parts of a split range at once than the 2 query replicas evaluate at once.
      assert.equal(flag(frontend, "query-range.max-query-parallelism"), want.parallelism);
      assert.equal(flag(frontend, "query-range.horizontal-shards"), want.shards);
      assert.equal(flag(store, "store.grpc.series-max-concurrency"), want.series);
      assert.equal(flag(store, "store.limits.request-series"), "100000");
      assert.equal(flag(store, "store.limits.request-samples"), "36000000");
      for (const retries of ["query-range", "query", "labels"]) {
        assert.equal(flag(frontend, `${retries}.max-retries-per-request`), "1", `${retries} retries`);
      }
      assert.equal(query?.env?.GOMEMLIMIT, want.query);
      assert.equal(frontend?.env?.GOMEMLIMIT, want.frontend);
      assert.equal(store?.env?.GOMEMLIMIT, want.store);
    });
  }

  test("query-frontend waits 20 s for query to start answering, and its config file says so", () => {
    const frontend = containers("small").get("thanos-query-frontend");
    const path = flag(frontend, "query-frontend.downstream-tripper-config-file");
    assert.equal(path, "/cfg/thanos-query-frontend/thanos-query-frontend/downstream-tripper.yaml");
    const file = frontend?.files.find((f) => path?.endsWith(`/${f.name}`));
    assert.deepEqual(parse(file?.content ?? ""), {
      response_header_timeout: "20s",
      max_idle_conns_per_host: 100,
    });
  });

  test("query-frontend refuses beyond its rate limit with 429, sized by profile, in its --http.config file", () => {
    const want = {
      small: { interval: "250ms", burst: 64 },
      medium: { interval: "63ms", burst: 64 },
      large: { interval: "16ms", burst: 256 },
    };
    for (const [profile, rateLimit] of Object.entries(want)) {
      const frontend = containers(profile).get("thanos-query-frontend");
      const path = flag(frontend, "http.config");
      assert.equal(path, "/cfg/thanos-query-frontend/thanos-query-frontend/web-config.yaml", profile);
      const file = frontend?.files.find((f) => path?.endsWith(`/${f.name}`));
      assert.equal(file?.secret, undefined, "a rate limit is no secret: a ConfigMap on Kubernetes");
      assert.deepEqual(parse(file?.content ?? ""), { rate_limit: rateLimit }, profile);
    }
  });

  test("query-frontend is probed by TCP connect: its rate limit answers /-/ready and /-/healthy with 429 too", () => {
    const c = containers("small");
    const frontend = c.get("thanos-query-frontend");
    assert.deepEqual(frontend?.readiness, { port: "http" });
    assert.deepEqual(frontend?.liveness, { port: "http" });
    // No other HTTP server of the fleet has a rate limit: they keep their HTTP probes.
    for (const other of c.values()) {
      if (other === frontend) continue;
      assert.equal(flag(other, "http.config"), undefined, other.name);
      assert.ok(other.readiness.path, `${other.name} keeps its HTTP readiness probe`);
    }
  });

  test("every mgmt Thanos process gets GOMEMLIMIT at 80 % of its memory limit", () => {
    for (const c of containers("small").values()) {
      if (c.binary !== "thanos") continue;
      const limit = Number(/^([0-9]+)(Mi|Gi)$/.exec(c.resources.limits.memory)?.[1]);
      const mib = c.resources.limits.memory.endsWith("Gi") ? limit * 1024 : limit;
      assert.equal(c.env?.GOMEMLIMIT, `${Math.floor(mib * 0.8)}MiB`, c.name);
    }
  });
});

test("the pinned thanos knows every flag the query path's specs give it (an unknown flag makes it exit)", async () => {
  const thanos = await resolveBinary("thanos");
  for (const profile of ["small", "large"]) {
    for (const c of containers(profile).values()) {
      if (c.binary !== "thanos") continue;
      const command = c.args.filter((a) => !a.startsWith("--"));
      const args = c.args.filter((a) => a.startsWith("--"));
      const { stdout, stderr } = await promisify(execFile)(thanos, [...command, "--help"]);
      const help = stdout + stderr;
      for (const a of args) {
        const name = /^--([a-z0-9.-]+)/.exec(a)?.[1] ?? a;
        const known = new RegExp(`--(\\[no-\\])?${name.replace(/\./g, "\\.")}[=\\s]`);
        assert.match(help, known, `${c.name}: thanos ${command.join(" ")} has no flag --${name}`);
      }
    }
  }
});
