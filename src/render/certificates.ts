// With a cert-manager Issuer named in fleet.yaml (`tls.issuer`): each server workload's certificate is a cert-manager
// `Certificate` whose Secret is the one the workload already mounts, instead of a leaf thanos-fleet makes.
import type { PodSpec } from "../components/types.ts";
import type { FleetConfig } from "../topology/schema.ts";
import { markOwnCert, type SharedServerPems } from "./server-certs.ts";
import type { KubeObject } from "./types.ts";
import { metadata } from "./workloads.ts";

export const CERTIFICATE_API = "cert-manager.io/v1";

/** A leaf for 90 days, renewed 30 days before it expires: what thanos-fleet's own leaves get. */
export const CERTIFICATE_DURATION = "2160h";
export const CERTIFICATE_RENEW_BEFORE = "720h";

/** The keys cert-manager writes in a Certificate's Secret. */
export const ISSUED_KEYS = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

export type IssuerConfig = NonNullable<FleetConfig["tls"]["issuer"]>;

/** `Certificate` of a workload's own name: the same name as the workload, as its Secret is `<workload>-tls`. */
export function certificateName(workload: string): string {
  return workload;
}

/**
 * The Certificate of one server workload: its Secret, exactly the SANs `serverSans` gives (`DNS:…`, `IP:…`), a P-256
 * key kept across renewals (rotationPolicy Never: a renewed certificate is on the same key, so a server reading its
 * files at a handshake never pairs a new certificate with the old key), server and client auth as our own leaves.
 */
export function certificate(
  workload: string,
  secretName: string,
  sans: string[],
  issuer: IssuerConfig,
): KubeObject {
  const dnsNames = sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
  const ipAddresses = sans.filter((s) => s.startsWith("IP:")).map((s) => s.slice(3));
  const meta = metadata(certificateName(workload));
  return {
    apiVersion: CERTIFICATE_API,
    kind: "Certificate",
    metadata: meta,
    spec: {
      secretName,
      // The Secret cert-manager writes carries thanos-fleet's labels: `down` removes it as it removes our own Secrets.
      secretTemplate: { labels: { ...meta.labels } },
      dnsNames,
      ...(ipAddresses.length > 0 ? { ipAddresses } : {}),
      duration: CERTIFICATE_DURATION,
      renewBefore: CERTIFICATE_RENEW_BEFORE,
      privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Never" },
      usages: ["server auth", "client auth"],
      issuerRef: { name: issuer.name, kind: issuer.kind, group: issuer.group },
    },
  };
}

/**
 * The pod with every copy of a shared server certificate or key marked as the one cert-manager writes (`ownCert`,
 * its content left empty: no certificate material is rendered), which the workload mounts from its Secret.
 */
export function withIssuedCert(pod: PodSpec, shared: SharedServerPems): PodSpec {
  return markOwnCert(pod, shared, () => "");
}
