// The query benchmark's two setups dial their store gateway as it serves: the fleet's with query's client
// certificate (its store gateway requires one), the guide's in plaintext.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { planBenchFleet } from "../../bench/lib/fleet.ts";
import {
  fleetConfiguration,
  guideCompactor,
  guideConfiguration,
  peerConfiguration,
} from "../../bench/query/configs.ts";
import { tempDir } from "../tempdir.ts";

test("the fleet's query keeps its client TLS to the store gateway; the guide's dials plaintext", async () => {
  const fleet = await planBenchFleet(await tempDir("bench-configs-"));
  const endpointsOf = (c: ReturnType<typeof fleetConfiguration>) => {
    const query = c.processes.find((p) => p.component === "query");
    const file = query?.files.find((f) => f.path.endsWith("/endpoints.yaml"));
    return parse(file?.content ?? "") as {
      default_client_config?: { tls_config?: { enabled?: boolean } };
      endpoints: unknown[];
    };
  };
  const own = endpointsOf(fleetConfiguration(fleet));
  if (fleet.topology.fleet.tls.grpc) {
    assert.equal(own.default_client_config?.tls_config?.enabled, true);
    const store = fleetConfiguration(fleet).processes.find((p) => p.component === "store");
    assert.ok(store?.args.some((a) => a.startsWith("--grpc-server-tls-client-ca=")));
  }
  assert.equal(own.endpoints.length, 1, "only the store gateway");
  const guide = endpointsOf(guideConfiguration(fleet));
  assert.equal(guide.default_client_config, undefined);
  const guideStore = guideConfiguration(fleet).processes.find((p) => p.component === "store");
  assert.ok(!guideStore?.args.some((a) => a.includes("tls")), "the guide's store serves plaintext");
});

test("the guide's compactor: Thanos's defaults, no deduplication, no retention", async () => {
  const fleet = await planBenchFleet(await tempDir("bench-configs-"));
  const own = fleet.plan.processes.find((p) => p.component === "compact");
  assert.ok(own);
  const args = guideCompactor(own).args;
  assert.equal(args[0], "compact");
  assert.ok(args.includes("--wait"));
  assert.ok(
    !args.some((a) => a.startsWith("--deduplication.") || a.startsWith("--retention.")),
    args.join(" "),
  );
  assert.ok(args.some((a) => a.startsWith("--objstore.config-file=")));
  assert.ok(own.args.includes("--deduplication.func=penalty"), "the fleet's compactor deduplicates");
});

test("the peer's setup: kube-thanos's defaults, as its jsonnet files set them, and none of the fleet's tuning", async () => {
  const fleet = await planBenchFleet(await tempDir("bench-configs-"));
  const peer = peerConfiguration(fleet);
  const argsOf = (component: string) => peer.processes.find((p) => p.component === component)?.args ?? [];
  const frontend = argsOf("query-frontend");
  for (const a of [
    "--query-range.split-interval=24h",
    "--labels.split-interval=24h",
    "--query-range.max-retries-per-request=5",
    "--query-frontend.compress-responses",
  ]) {
    assert.ok(frontend.includes(a), `${a} in ${frontend.join(" ")}`);
  }
  const cache = frontend.find((a) => a.startsWith("--query-range.response-cache-config="));
  assert.deepEqual(parse(cache?.slice(cache.indexOf("=") + 1) ?? ""), {
    type: "IN-MEMORY",
    config: { max_size: "0", max_size_items: 2048, validity: "6h" },
  });
  assert.ok(frontend.some((a) => a.startsWith("--query-frontend.downstream-url=http://")));
  assert.ok(argsOf("query").includes("--query.auto-downsampling"));
  assert.ok(
    !argsOf("query").some((a) => a.startsWith("--query.max-concurrent") || a.startsWith("--query.timeout")),
  );
  const store = argsOf("store");
  assert.ok(store.includes("--ignore-deletion-marks-delay=24h"));
  assert.ok(
    !store.some((a) => a.startsWith("--store.") || a.startsWith("--index-cache") || a.includes("tls")),
  );
  // Each setup keeps its own store data and logs.
  const guide = guideConfiguration(fleet);
  assert.notEqual(peer.storeLog, guide.storeLog);
  assert.notEqual(
    store.find((a) => a.startsWith("--data-dir=")),
    guide.processes.find((p) => p.component === "store")?.args.find((a) => a.startsWith("--data-dir=")),
  );
});
