// A cert-manager Issuer named in fleet.yaml (`tls.issuer`): waiting until each server's Certificate is Ready, and
// asking cert-manager to re-issue one now, the way `cmctl renew` does.

import { X509Certificate } from "node:crypto";
import type { IssuerConfig } from "../../render/certificates.ts";
import type { KubeObject } from "../../render/types.ts";
import { describeRef, type KubeApi, refOf } from "./api.ts";
import { type Clock, formatDuration, pollUntil, WaitTimeoutError } from "./wait.ts";

/** How long `up` waits, by default, until every Certificate of a cluster is Ready. */
export const DEFAULT_CERTIFICATE_WAIT_MS = 5 * 60_000;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

interface CertificateStatus {
  conditions?: Condition[];
  notAfter?: string;
  revision?: number;
}

export function certificateStatus(obj: KubeObject | undefined): CertificateStatus {
  return (obj?.status as CertificateStatus | undefined) ?? {};
}

export function condition(obj: KubeObject | undefined, type: string): Condition | undefined {
  return certificateStatus(obj).conditions?.find((c) => c.type === type);
}

/**
 * Ready for its current spec: `Ready=True` observed at its generation, and no issuance under way (`Issuing=True`:
 * a renewal asked for, whose new certificate is not in the Secret yet).
 */
export function isReady(obj: KubeObject | undefined): boolean {
  const ready = condition(obj, "Ready");
  const generation = obj?.metadata.generation as number | undefined;
  const current =
    generation === undefined ||
    ready?.observedGeneration === undefined ||
    ready.observedGeneration >= generation;
  return ready?.status === "True" && current && condition(obj, "Issuing")?.status !== "True";
}

/** `Ready` as a phrase for a message: its reason and message, or that cert-manager has not looked at it yet. */
export function describeReady(obj: KubeObject | undefined): string {
  if (!obj) return "not found";
  const ready = condition(obj, "Ready");
  if (!ready) return "no Ready condition yet (cert-manager has not processed it: is cert-manager running?)";
  const issuing = condition(obj, "Issuing");
  const under =
    issuing?.status === "True" ? `; Issuing: ${issuing.reason ?? ""} ${issuing.message ?? ""}` : "";
  return `Ready=${ready.status} ${ready.reason ?? ""}: ${ready.message ?? ""}${under}`
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Polls until every Certificate is Ready; a progress line each time the count changes. Past the deadline, an error
 * naming each one that is not, with its Ready condition's reason and message, and what to check.
 */
export async function waitCertificatesReady(
  api: KubeApi,
  certificates: KubeObject[],
  opts: {
    clock: Clock;
    signal?: AbortSignal;
    timeoutMs?: number;
    issuer: IssuerConfig;
    progress?: (line: string) => void;
  },
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CERTIFICATE_WAIT_MS;
  const live = new Map<string, KubeObject | undefined>();
  let lastCount = -1;
  try {
    await pollUntil(
      opts.clock,
      async () => {
        for (const c of certificates) live.set(c.metadata.name, await api.get(refOf(c)));
        const ready = certificates.filter((c) => isReady(live.get(c.metadata.name))).length;
        if (ready !== lastCount) {
          lastCount = ready;
          opts.progress?.(`  ${ready} of ${certificates.length} Certificates Ready`);
        }
        return ready === certificates.length ? true : undefined;
      },
      {
        timeoutMs,
        intervalMs: 1000,
        ...(opts.signal ? { signal: opts.signal } : {}),
        what: () => "",
      },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    const { kind, name } = opts.issuer;
    const notReady = certificates
      .filter((c) => !isReady(live.get(c.metadata.name)))
      .map((c) => `  ${describeRef(refOf(c))}: ${describeReady(live.get(c.metadata.name))}`);
    throw new Error(
      `${notReady.length} Certificate${notReady.length === 1 ? " is" : "s are"} not Ready in context ${api.context} after ${formatDuration(timeoutMs)}:\n${notReady.join("\n")}\n` +
        `  fix: check that cert-manager runs in this cluster and that ${kind} ${name} is Ready ` +
        `(kubectl --context ${api.context} get ${kind.toLowerCase()} ${name}; ` +
        `kubectl --context ${api.context} describe certificate -n ${certificates[0]?.metadata.namespace ?? ""} ${certificates[0]?.metadata.name ?? ""}), then run up again`,
      { cause: error },
    );
  }
}

/**
 * The conditions with `Issuing=True` set as cert-manager's `SetCertificateCondition` sets it (the condition of that
 * type replaced, its lastTransitionTime kept when its status does not change, observedGeneration the object's).
 */
export function withIssuing(obj: KubeObject, now: Date): Condition[] {
  const conditions = [...(certificateStatus(obj).conditions ?? [])];
  const old = conditions.find((c) => c.type === "Issuing");
  const issuing: Condition = {
    type: "Issuing",
    status: "True",
    reason: "ManuallyTriggered",
    message: "Certificate re-issuance manually triggered",
    lastTransitionTime:
      old?.status === "True" && old.lastTransitionTime ? old.lastTransitionTime : now.toISOString(),
    observedGeneration: (obj.metadata.generation as number | undefined) ?? 0,
  };
  const at = conditions.findIndex((c) => c.type === "Issuing");
  if (at >= 0) conditions[at] = issuing;
  else conditions.push(issuing);
  return conditions;
}

/**
 * Asks cert-manager to re-issue a Certificate now, as `cmctl renew` does: `Issuing=True` (reason ManuallyTriggered)
 * written through the status subresource, on the resourceVersion read (a concurrent change is a conflict, not lost).
 * Returns the revision before, which the re-issued certificate's status moves past.
 */
export async function triggerRenewal(
  api: KubeApi,
  certificate: KubeObject,
  now = new Date(),
): Promise<number> {
  const ref = refOf(certificate);
  const live = await api.get(ref);
  if (!live)
    throw new Error(`${describeRef(ref)} is not in context ${api.context}: run 'thanos-fleet up' first`);
  await api.mergePatch(
    ref,
    {
      metadata: { resourceVersion: live.metadata.resourceVersion },
      status: { conditions: withIssuing(live, now) },
    },
    { subresource: "status" },
  );
  return certificateStatus(live).revision ?? 0;
}

/** The serial of the certificate in a Certificate's Secret (`tls.crt`), undefined while there is none. */
export async function issuedSerial(api: KubeApi, certificate: KubeObject): Promise<string | undefined> {
  const secretName = (certificate.spec as { secretName: string }).secretName;
  const secret = await api.get({
    apiVersion: "v1",
    kind: "Secret",
    name: secretName,
    namespace: certificate.metadata.namespace ?? "",
  });
  const pem = (secret?.data as Record<string, string> | undefined)?.["tls.crt"];
  if (!pem) return undefined;
  try {
    return new X509Certificate(Buffer.from(pem, "base64")).serialNumber;
  } catch {
    return undefined;
  }
}

/**
 * `certs rotate` with a cert-manager Issuer, for one Certificate: re-issuance asked for (`triggerRenewal`), then a
 * wait until it is Ready at a later revision and its Secret holds the new certificate (same key: rotationPolicy
 * Never). The serials before and after.
 */
export async function renewIssued(
  api: KubeApi,
  certificate: KubeObject,
  opts: { clock: Clock; signal?: AbortSignal; timeoutMs: number },
): Promise<{ serialBefore?: string; serialAfter: string }> {
  const before = await issuedSerial(api, certificate);
  const revision = await triggerRenewal(api, certificate);
  const ref = refOf(certificate);
  let live: KubeObject | undefined;
  const serialAfter = await pollUntil(
    opts.clock,
    async () => {
      live = await api.get(ref);
      if (!isReady(live) || (certificateStatus(live).revision ?? 0) <= revision) return undefined;
      const serial = await issuedSerial(api, certificate);
      return serial !== undefined && serial !== before ? serial : undefined;
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: 1000,
      ...(opts.signal ? { signal: opts.signal } : {}),
      what: () =>
        `${describeRef(ref)} in context ${api.context} was not re-issued (${describeReady(live)}); ` +
        `check cert-manager's log and its Issuer, then run 'thanos-fleet certs rotate' again`,
    },
  );
  return { ...(before ? { serialBefore: before } : {}), serialAfter };
}

/** One server's cert-manager Certificate, as `certs` lists it. */
export interface IssuedCertificate {
  cluster: string;
  workload: string;
  secret: string;
  sans: string[];
  /** `issued by ClusterIssuer/fleet-ca (cert-manager)`. */
  issuedBy: string;
  /** From the Certificate's status (or its Secret's tls.crt); absent when the cluster cannot be asked or none is issued. */
  notAfter?: string;
  daysLeft?: number;
  /** Its Ready condition, or why it is not known. */
  ready: string;
}

/** Each rendered Certificate with what its cluster says of it; a cluster that cannot be reached leaves the dates out. */
export async function issuedCertificates(
  clusters: { cluster: string; context: string; certificates?: KubeObject[] }[],
  issuer: IssuerConfig,
  api: (context: string) => KubeApi,
  now = Date.now(),
): Promise<IssuedCertificate[]> {
  const out: IssuedCertificate[] = [];
  for (const rc of clusters) {
    for (const c of rc.certificates ?? []) {
      const spec = c.spec as { secretName: string; dnsNames?: string[]; ipAddresses?: string[] };
      const row: IssuedCertificate = {
        cluster: rc.cluster,
        workload: c.metadata.name,
        secret: spec.secretName,
        sans: [
          ...(spec.dnsNames ?? []).map((d) => `DNS:${d}`),
          ...(spec.ipAddresses ?? []).map((i) => `IP:${i}`),
        ],
        issuedBy: `issued by ${issuer.kind}/${issuer.name} (cert-manager)`,
        ready: "unknown",
      };
      try {
        const k = api(rc.context);
        const live = await k.get(refOf(c));
        row.ready = live ? describeReady(live) : "not applied: 'thanos-fleet up' applies it";
        let notAfter = certificateStatus(live).notAfter;
        if (live && !notAfter) {
          const secret = await k.get({
            apiVersion: "v1",
            kind: "Secret",
            name: spec.secretName,
            namespace: c.metadata.namespace ?? "",
          });
          const pem = (secret?.data as Record<string, string> | undefined)?.["tls.crt"];
          if (pem) notAfter = new Date(new X509Certificate(Buffer.from(pem, "base64")).validTo).toISOString();
        }
        if (notAfter) {
          row.notAfter = notAfter;
          row.daysLeft = Math.floor((Date.parse(notAfter) - now) / 86_400_000);
        }
      } catch (error) {
        row.ready = `cluster not reachable (${(error as Error).message.split("\n")[0]})`;
      }
      out.push(row);
    }
  }
  return out;
}
