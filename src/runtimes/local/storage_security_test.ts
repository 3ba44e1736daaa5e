// A default local fleet's storage cluster: S3 over HTTPS from the fleet CA, which Thanos's objstore config verifies
// (blocks reach the bucket), and no port of the storage cluster serving the bucket to an anonymous client.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testFleet } from "../../../testing/local/fleet.ts";
import { DEFAULT_FLEET, parseFleet } from "../../topology/load.ts";
import { verifyFleet } from "../../verify/verify.ts";

const SUBNET = process.env.THANOS_FLEET_LOCAL_SUBNET ?? "127.75";
const topology = parseFleet(DEFAULT_FLEET, "storage security test");
const fleet = await testFleet(topology, { subnet: SUBNET, name: "storage-security" });
const { runtime, stateDir, upOptions } = fleet;

test(
  "the storage cluster serves S3 over HTTPS only and refuses anonymous access on every port",
  { timeout: 420_000 },
  async () => {
    try {
      await runtime.up(topology, upOptions);
      const endpoints = await runtime.endpoints(topology, { stateDir });
      assert.match(endpoints.objectStore.url, /^https:/);
      assert.ok(endpoints.objectStore.ca?.includes("BEGIN CERTIFICATE"));
      assert.ok((endpoints.objectStore.doors?.length ?? 0) >= 9, `doors: ${endpoints.objectStore.doors}`);
      // Thanos uploads blocks through the verified HTTPS: the objstore check passes once the first block is there.
      let checks: Awaited<ReturnType<typeof verifyFleet>>["checks"] = [];
      const deadline = Date.now() + 240_000;
      for (;;) {
        checks = (await verifyFleet(topology, endpoints)).checks;
        const objstore = checks.find((c) => c.id === "objstore");
        if (objstore?.status === "pass" || Date.now() > deadline) break;
        await sleep(5000);
      }
      const doors = checks.find((c) => c.id === "storage-doors");
      process.stderr.write(`storage-doors: ${doors?.status} ${doors?.detail}\n`);
      process.stderr.write(`objstore: ${checks.find((c) => c.id === "objstore")?.detail}\n`);
      assert.equal(doors?.status, "pass", doors?.detail);
      assert.match(doors?.detail ?? "", /ports × 22 anonymous requests: all refused/);
      assert.equal(checks.find((c) => c.id === "objstore")?.status, "pass");
    } catch (error) {
      fleet.failed = true;
      throw error;
    }
  },
);
