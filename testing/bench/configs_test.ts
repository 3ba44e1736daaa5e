// The query benchmark's two setups dial their store gateway as it serves: the fleet's with query's client
// certificate (its store gateway requires one), the guide's in plaintext.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { planBenchFleet } from "../../bench/lib/fleet.ts";
import { fleetConfiguration, guideCompactor, guideConfiguration } from "../../bench/query/configs.ts";
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
