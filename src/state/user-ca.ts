// The user's own CA (`tls: { ca: { cert, key } }` in fleet.yaml): read and checked before anything starts; the
// fleet's certificates are then signed by it, and its key is read from where the user keeps it, never copied.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError } from "../topology/errors.ts";
import { fleetPath, type Topology, topologyError } from "../topology/topology.ts";

export interface UserCa {
  cert: string;
  key: string;
}

/**
 * fleet.yaml's `tls.ca`, checked: both files readable, the certificate a CA (basicConstraints CA:TRUE) valid now,
 * the key its own. Undefined without `tls.ca`. Exit 2 at the field's line otherwise.
 */
export async function loadUserCa(topology: Topology, now = Date.now()): Promise<UserCa | undefined> {
  const given = topology.fleet.tls.ca;
  if (!given) return undefined;
  const read = async (field: "cert" | "key") => {
    const path = fleetPath(topology, given[field]);
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      throw topologyError(
        topology,
        ["tls", "ca", field],
        `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        field === "key"
          ? "point tls.ca.key at your CA's private key (PEM): thanos-fleet signs the fleet's certificates with it"
          : "point tls.ca.cert at your CA's certificate (PEM)",
      );
    }
  };
  const certText = await read("cert");
  const keyText = await read("key");
  const bad = (field: "cert" | "key", message: string, fix: string) =>
    topologyError(topology, ["tls", "ca", field], message, fix);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certText);
  } catch {
    throw bad(
      "cert",
      `${given.cert} is not a PEM certificate`,
      "point tls.ca.cert at your CA's certificate (PEM)",
    );
  }
  if (!cert.ca) {
    throw bad(
      "cert",
      `${given.cert} (${cert.subject}) is not a CA certificate (no basicConstraints CA:TRUE)`,
      "give your CA's own certificate, not one it signed",
    );
  }
  if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
    throw bad(
      "cert",
      `${given.cert} (${cert.subject}) is valid from ${cert.validFrom} to ${cert.validTo}, not now`,
      "renew your CA, or remove tls.ca to have thanos-fleet make its own",
    );
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyText))) {
      throw bad(
        "key",
        `${given.key} is not the key of ${given.cert}`,
        "give the key that belongs to tls.ca.cert",
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw bad(
      "key",
      `${given.key} is not an unencrypted PEM private key`,
      "give the CA's key in PEM without a passphrase (openssl pkey -in key.pem -out plain.pem), kept 0600",
    );
  }
  return { cert: certText, key: keyText };
}

/**
 * fleet.yaml's `tls.issuer.ca`, checked like the user's own CA certificate: readable, a PEM certificate, a CA
 * (basicConstraints CA:TRUE), valid now. Undefined without `tls.issuer`. Exit 2 at the field's line otherwise.
 */
export async function loadIssuerCa(topology: Topology, now = Date.now()): Promise<string | undefined> {
  const issuer = topology.fleet.tls.issuer;
  if (!issuer) return undefined;
  const field = ["tls", "issuer", "ca"];
  const fix = `point tls.issuer.ca at the PEM certificate of the CA your ${issuer.kind} ${issuer.name} signs with (for a CA issuer, its Secret's tls.crt)`;
  const path = fleetPath(topology, issuer.ca);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw topologyError(
      topology,
      field,
      `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      fix,
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch {
    throw topologyError(topology, field, `${issuer.ca} is not a PEM certificate`, fix);
  }
  if (!cert.ca) {
    throw topologyError(
      topology,
      field,
      `${issuer.ca} (${cert.subject}) is not a CA certificate (no basicConstraints CA:TRUE)`,
      fix,
    );
  }
  if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
    throw topologyError(
      topology,
      field,
      `${issuer.ca} (${cert.subject}) is valid from ${cert.validFrom} to ${cert.validTo}, not now`,
      `renew the issuer's CA (and give its new certificate here), or remove tls.issuer`,
    );
  }
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** The CAs clients trust: the fleet CA (client certificates, S3) and, with a cert-manager Issuer, the issuer's. */
export function trustBundle(fleetCa: string, issuerCa: string | undefined): string {
  if (!issuerCa || fleetCa.includes(issuerCa.trim())) return fleetCa;
  return `${fleetCa.endsWith("\n") ? fleetCa : `${fleetCa}\n`}${issuerCa}`;
}
