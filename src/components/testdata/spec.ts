// What the component specs' tests plan with: stand-in credentials and addresses that name what they stand for.
import type { Credentials } from "../../state/credentials.ts";
import type { Topology } from "../../topology/topology.ts";
import { POD_IP, type SpecContext } from "../context.ts";
import { objectStoreAccess } from "../fleet.ts";

export const TEST_CREDENTIALS: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};

export const TEST_ADDRESSES = {
  service: (c: string, s: string, p: number) => `svc.${s}.${c}:${p}`,
  pod: (c: string, w: string, i: number, p: number) => `pod.${w}-${i}.${c}:${p}`,
  exposed: (c: string, p: number) => `node.${c}:${p}`,
};

/** A spec context with the stand-ins above, paths under /cfg and /data; `extra` adds or overrides fields. */
export function testContext(topology: Topology, extra: Partial<SpecContext> = {}): SpecContext {
  return {
    listenHost: POD_IP,
    configDir: (w, c) => `/cfg/${w}/${c}`,
    dataDir: (w, c) => `/data/${w}/${c}`,
    addresses: TEST_ADDRESSES,
    objectStore: objectStoreAccess(topology, TEST_CREDENTIALS, TEST_ADDRESSES),
    blockDuration: "2h",
    bucketSyncInterval: "3m",
    ...extra,
  };
}
