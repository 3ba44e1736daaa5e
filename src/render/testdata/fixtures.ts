// Fixed inputs for the render tests: fake credentials (never random) and node addresses as kind would give them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Credentials } from "../../state/credentials.ts";
import type { Leaf } from "../../state/server-certs.ts";
import {
  GRPC_SERVER_NAME,
  type GrpcTls,
  HTTP_SERVER_NAME,
  type HttpTls,
  S3_SERVER_NAME,
  type S3Tls,
} from "../../state/tls.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet, parseFleetYaml } from "../../topology/load.ts";
import type { Topology } from "../../topology/topology.ts";
import type { DiscoveredAddresses } from "../addresses.ts";
import { kubeLeafRequests, type RenderOptions, renderFleet } from "../render.ts";
import type { RenderedFleet } from "../types.ts";

export const FAKE_CREDENTIALS: Credentials = {
  minioRoot: { user: "fake-minio-root-user", password: "fake-minio-root-password-0123" },
  thanos: { accessKey: "fake-thanos-access-key", secretKey: "fake-thanos-secret-key-4567" },
  grafana: { user: "fake-grafana-admin", password: "fake-grafana-password-89ab" },
};

/** Stand-in gRPC TLS material (fleets have mutual TLS by default); the real material is made by openssl. */
export const FAKE_GRPC_TLS: GrpcTls = {
  ca: "fake-ca-pem",
  cert: "fake-server-cert-pem",
  key: "fake-server-key-pem",
  clientCert: "fake-client-cert-pem",
  clientKey: "fake-client-key-pem",
  serverName: GRPC_SERVER_NAME,
};

/** Stand-in HTTP TLS material (fleets have HTTPS on their exposed HTTP ports by default). */
export const FAKE_HTTP_TLS: HttpTls = {
  ca: "fake-ca-pem",
  cert: "fake-http-server-cert-pem",
  key: "fake-http-server-key-pem",
  clientCert: "fake-http-client-cert-pem",
  clientKey: "fake-http-client-key-pem",
  serverName: HTTP_SERVER_NAME,
};

/** Stand-in storage cluster TLS material (S3 over HTTPS by default). */
export const FAKE_S3_TLS: S3Tls = {
  ca: "fake-ca-pem",
  cert: "fake-s3-server-cert-pem",
  key: "fake-s3-server-key-pem",
  internalCert: "fake-seaweedfs-cert-pem",
  internalKey: "fake-seaweedfs-key-pem",
  serverName: S3_SERVER_NAME,
};

/** Stand-in own certificates of every server workload: `fake-leaf-cert kube@mgmt/thanos-query`. */
export function fakeServerLeaves(requests: { name: string }[]): Map<string, Leaf> {
  return new Map(requests.map((r) => [r.name, { cert: `fake-leaf-cert ${r.name}`, key: `fake-leaf-key ${r.name}` }]));
}

/** What render needs besides the topology, as the tests give it: each server with its own (stand-in) certificate. */
export function fakeRenderOptions(
  topology: Topology,
): Pick<RenderOptions, "credentials" | "grpcTls" | "s3Tls" | "httpTls" | "serverLeaves" | "issuerCa"> {
  const base = {
    credentials: FAKE_CREDENTIALS,
    ...(topology.fleet.tls.grpc ? { grpcTls: FAKE_GRPC_TLS } : {}),
    ...(topology.fleet.tls.http ? { httpTls: FAKE_HTTP_TLS } : {}),
    ...(topology.storage && topology.fleet.tls.s3 ? { s3Tls: FAKE_S3_TLS } : {}),
  };
  // With a cert-manager Issuer, cert-manager makes every server's certificate: no leaf of ours.
  if (topology.fleet.tls.issuer) return { ...base, issuerCa: FAKE_ISSUER_CA };
  const requests = kubeLeafRequests(topology, base);
  return { ...base, ...(requests.length > 0 ? { serverLeaves: fakeServerLeaves(requests) } : {}) };
}

/** Stand-in certificate of the CA a cert-manager Issuer signs with. */
export const FAKE_ISSUER_CA = "fake-issuer-ca-pem\n";

/** Every credential string, for "appears nowhere but in a Secret" checks. */
export const CREDENTIAL_STRINGS = [
  FAKE_CREDENTIALS.minioRoot.user,
  FAKE_CREDENTIALS.minioRoot.password,
  FAKE_CREDENTIALS.thanos.accessKey,
  FAKE_CREDENTIALS.thanos.secretKey,
  FAKE_CREDENTIALS.grafana.user,
  FAKE_CREDENTIALS.grafana.password,
];

export const FOUR_WORKLOADS_FILE = join(import.meta.dirname, "four-workloads.yaml");
export const GOLDEN_DIR = join(import.meta.dirname, "golden");

export function defaultTopology(): Topology {
  return parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE);
}

/** The default fleet with biz2 on receive (e2e:kind's `receive` mode): biz1 keeps its sidecars. */
export const RECEIVE_FLEET_YAML = `bucket: thanos
clusters:
  - name: mgmt
    role: observer
  - name: biz1
    role: workload
  - name: biz2
    role: workload
    mode: receive
  - name: minio
    role: storage
`;

export function receiveTopology(): Topology {
  return parseFleetYaml(RECEIVE_FLEET_YAML, "receive.yaml");
}

/** The default fleet with its servers' certificates from a cert-manager ClusterIssuer. */
export const ISSUER_FLEET_YAML = `bucket: thanos
tls:
  issuer: {name: fleet-ca, ca: issuer-ca.pem}
clusters:
  - name: mgmt
    role: observer
  - name: biz1
    role: workload
  - name: biz2
    role: workload
    mode: receive
  - name: minio
    role: storage
`;

export function issuerTopology(): Topology {
  return parseFleetYaml(ISSUER_FLEET_YAML, "issuer.yaml");
}

export function fourWorkloadsTopology(): Topology {
  return parseFleetYaml(readFileSync(FOUR_WORKLOADS_FILE, "utf8"), "src/render/testdata/four-workloads.yaml");
}

/** Node addresses as kind hands them out on the `kind` Docker network: 172.18.0.2, .3, … in cluster order. */
export function kindAddresses(topology: Topology): DiscoveredAddresses {
  return { nodeIP: Object.fromEntries(topology.fleet.clusters.map((c, i) => [c.name, `172.18.0.${i + 2}`])) };
}

export function render(topology: Topology, discovered = true): RenderedFleet {
  return renderFleet(topology, {
    ...fakeRenderOptions(topology),
    discovered: discovered ? kindAddresses(topology) : undefined,
    outDir: "out",
  });
}

/** The configs every whole-fleet check runs on. */
export function configs(): { name: string; topology: Topology }[] {
  return [
    { name: "default fleet", topology: defaultTopology() },
    { name: "four workload clusters with three replicas", topology: fourWorkloadsTopology() },
    { name: "biz2 on receive", topology: receiveTopology() },
    { name: "servers' certificates from a cert-manager Issuer", topology: issuerTopology() },
  ];
}
