// With `tls: { grpc: true }` every StoreAPI server of the rendered fleet serves TLS, query dials with it, and
// private keys stay in Secrets.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import type { GrpcTls } from "../components/context.ts";
import { ENDPOINTS_FILE } from "../components/thanos/query.ts";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { PROMETHEUS_TLS_SECRET } from "./helm.ts";
import { kubeLeafRequests, renderFleet } from "./render.ts";
import { kubeLeafName } from "./server-certs.ts";
import {
  FAKE_CREDENTIALS,
  FAKE_HTTP_TLS,
  FAKE_S3_TLS,
  fakeServerLeaves,
  kindAddresses,
} from "./testdata/fixtures.ts";
import { validateObject } from "./testdata/validate.ts";
import type { KubeObject } from "./types.ts";

const pem = (kind: string, body: string) => `-----BEGIN ${kind}-----\n${body}\n-----END ${kind}-----\n`;
const TLS: GrpcTls = {
  ca: pem("CERTIFICATE", "fake-ca"),
  cert: pem("CERTIFICATE", "fake-server-cert"),
  key: pem("PRIVATE KEY", "fake-server-key"),
  clientCert: pem("CERTIFICATE", "fake-client-cert"),
  clientKey: pem("PRIVATE KEY", "fake-client-key"),
  serverName: "thanos-fleet-grpc",
};
const TLS_FLAGS = ["--grpc-server-tls-cert=", "--grpc-server-tls-key=", "--grpc-server-tls-client-ca="];

interface PodTemplateSpec {
  containers: { name: string; args?: string[]; volumeMounts?: { mountPath: string }[] }[];
}

const topology = parseFleet({ ...DEFAULT_FLEET, tls: { grpc: true } }, "tls test");
const base = {
  credentials: FAKE_CREDENTIALS,
  discovered: kindAddresses(topology),
  grpcTls: TLS,
  httpTls: FAKE_HTTP_TLS,
  s3Tls: FAKE_S3_TLS,
};
const leaves = fakeServerLeaves(kubeLeafRequests(topology, base));
const fleet = renderFleet(topology, { ...base, serverLeaves: leaves });
const manifests = fleet.clusters.flatMap((c) => c.manifests);

test("without TLS material, a fleet with tls.grpc does not render", () => {
  assert.throws(
    () => renderFleet(topology, { credentials: FAKE_CREDENTIALS, discovered: kindAddresses(topology) }),
    /tls\.grpc/,
  );
});

test("every StoreAPI server of mgmt takes the TLS flags, with files that are mounted", () => {
  const servers = manifests
    .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
    .flatMap((o) => (o.spec as { template: { spec: PodTemplateSpec } }).template.spec.containers)
    .filter((c) => c.args?.some((a) => a.startsWith("--grpc-address=")) && c.name !== "thanos-query");
  assert.deepEqual(servers.map((c) => c.name).sort(), ["thanos-ruler", "thanos-store"]);
  for (const c of servers) {
    for (const flag of TLS_FLAGS) {
      const arg = c.args?.find((a) => a.startsWith(flag));
      assert.ok(arg, `${c.name} has ${flag}`);
      const path = arg.slice(flag.length);
      assert.ok(
        c.volumeMounts?.some((m) => path.startsWith(`${m.mountPath}/`)),
        `${c.name}: ${path} is on a mounted volume`,
      );
    }
  }
});

test("each workload cluster's sidecars serve TLS from their own certificate's Secret", () => {
  for (const c of fleet.clusters.filter((x) => x.role === "workload")) {
    const spec = (c.helmValues?.prometheus as { prometheusSpec: Record<string, unknown> }).prometheusSpec;
    assert.ok((spec.secrets as string[]).includes(PROMETHEUS_TLS_SECRET), c.cluster);
    const thanos = spec.thanos as {
      grpcServerTlsConfig: Record<string, string>;
      volumeMounts: { name: string; mountPath: string }[];
    };
    const mount = thanos.volumeMounts.find((m) => m.name === `secret-${PROMETHEUS_TLS_SECRET}`);
    assert.ok(mount, `${c.cluster}: the sidecar mounts the operator's volume of ${PROMETHEUS_TLS_SECRET}`);
    assert.deepEqual(Object.keys(thanos.grpcServerTlsConfig).sort(), ["caFile", "certFile", "keyFile"]);
    for (const file of Object.values(thanos.grpcServerTlsConfig))
      assert.ok(file.startsWith(`${mount.mountPath}/`));
    const s = c.secrets.find((o) => o.metadata.name === PROMETHEUS_TLS_SECRET) as KubeObject & {
      stringData?: Record<string, string>;
      data?: Record<string, string>;
    };
    assert.ok(s, `${c.cluster} renders the ${PROMETHEUS_TLS_SECRET} Secret`);
    const data =
      s.stringData ??
      Object.fromEntries(
        Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      );
    const own = leaves.get(kubeLeafName(c.cluster, "prometheus-kube-prometheus-stack-prometheus"));
    assert.ok(own, `${c.cluster}: the Prometheus pair has a certificate of its own`);
    assert.deepEqual(data, { "ca.crt": TLS.ca, "tls.crt": own.cert, "tls.key": own.key });
  }
});

test("query dials every endpoint with TLS, verifying the address it dials (no pinned name)", () => {
  const cm = manifests.find(
    (o) => o.kind === "ConfigMap" && typeof (o.data as Record<string, string>)?.[ENDPOINTS_FILE] === "string",
  );
  assert.ok(cm, "a ConfigMap holds query's endpoint config");
  const config = parse((cm.data as Record<string, string>)[ENDPOINTS_FILE] as string);
  const client = config.default_client_config;
  assert.equal(client.server_name, undefined);
  assert.equal(client.tls_config.enabled, true);
  for (const key of ["ca_file", "cert_file", "key_file"]) assert.match(client.tls_config[key], /^\//, key);
  assert.ok(config.endpoints.length > 0);
  for (const e of config.endpoints) assert.equal(e.client_config, undefined, `${e.address} uses the default`);
});

test("private keys appear only in Secrets, and every object fits the Kubernetes API", () => {
  for (const c of fleet.clusters) {
    const outside = JSON.stringify([c.manifests, c.helmValues ?? {}]);
    for (const key of [TLS.key, TLS.clientKey, ...[...leaves.values()].map((l) => l.key)]) {
      assert.ok(!outside.includes(JSON.stringify(key).slice(1, -1)), `${c.cluster}: a key outside a Secret`);
    }
    for (const o of [...c.secrets, ...c.manifests]) validateObject(o);
  }
});
