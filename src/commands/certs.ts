// `thanos-fleet certs [--json]`: every certificate of the fleet with who uses it and when it expires;
// `thanos-fleet certs rotate`: every server's certificate renewed on the running fleet, with no gap in the view.

import type { IssuedCertificate } from "../runtimes/kube/cert-manager.ts";
import { GRAFANA_DEPLOYMENT, type RotationReport } from "../runtimes/kube/certs.ts";
import { rotateLocalCerts } from "../runtimes/local/certs.ts";
import type { Runtime } from "../runtimes/runtime.ts";
import type { RenewedCert } from "../state/client-certs.ts";
import { type CertificateInfo, listCertificates, RENEW_WITHIN_DAYS } from "../state/server-certs.ts";
import { TLS_DIR, TlsMaterialError } from "../state/tls.ts";
import type { Topology } from "../topology/topology.ts";
import { table } from "../ui/table.ts";

export interface CertsOptions {
  stateDir: string;
  json: boolean;
  write?: (text: string) => void;
  /** With a cert-manager Issuer (Kubernetes): the servers' Certificates, which are not in the state dir. */
  issued?: IssuedCertificate[];
}

/** Lists the certificates; exit 1 when one has a problem (expired, not from the fleet CA), else 0. */
export async function certsCommand(opts: CertsOptions): Promise<number> {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const certs = await listCertificates(opts.stateDir);
  const issued = opts.issued ?? [];
  if (opts.json) {
    const doc = {
      dir: `${opts.stateDir}/${TLS_DIR}`,
      certificates: certs,
      ...(opts.issued ? { issued } : {}),
    };
    write(`${JSON.stringify(doc, null, 2)}\n`);
  } else if (certs.length === 0 && issued.length === 0) {
    write(`no certificates in ${opts.stateDir}/${TLS_DIR}: 'thanos-fleet up' makes them\n`);
  } else {
    write(
      table(
        ["FILE", "SUBJECT", "SANS", "NOT AFTER", "DAYS LEFT", "USED BY"],
        [
          ...certs.map((c) => [
            c.file,
            c.subject,
            c.sans.join(" ") || "-",
            c.notAfter.slice(0, 10),
            `${c.daysLeft}${c.problem ? ` (${c.problem})` : c.daysLeft < RENEW_WITHIN_DAYS ? " (renewed at the next up)" : ""}`,
            c.usedBy,
          ]),
          ...issued.map((c) => [
            `Kubernetes: ${c.cluster}/${c.workload}, every pod of it (Secret ${c.secret})`,
            "-",
            c.sans.join(" ") || "-",
            c.notAfter?.slice(0, 10) ?? "-",
            c.daysLeft === undefined ? `- (${c.ready})` : String(c.daysLeft),
            c.issuedBy,
          ]),
        ],
      ),
    );
    write(
      `\nin ${opts.stateDir}/${TLS_DIR}; 'thanos-fleet certs rotate' renews every server's certificate, the client certificates and the storage cluster's\n`,
    );
  }
  // cert-manager renews the issued ones itself (renewBefore): their dates are information, not a problem of ours.
  return certs.some((c: CertificateInfo) => c.problem) ? 1 : 0;
}

/** One renewed client or storage certificate: where it is, its serials and its new expiry. */
function renewedLine(c: RenewedCert, stateDir: string, what = "client certificate"): string {
  return (
    `renewed the ${what} ${c.name} (${stateDir}/${TLS_DIR}/${c.name}.crt) on its own key: serial ` +
    `${c.serialBefore ?? "-"} → ${c.serialAfter}, valid until ${c.notAfter.slice(0, 10)}\n`
  );
}

/** What `certs rotate` needs of the Kubernetes runtime (KubeRuntime.rotateCerts). */
interface RotatesCerts {
  rotateCerts(
    topology: Topology,
    opts: { stateDir: string; progress: (line: string) => void; timeoutMs?: number },
  ): Promise<RotationReport>;
}

/** Renews every server's certificate and hands it to the running fleet, on either runtime. */
export async function certsRotateCommand(
  runtime: Runtime,
  topology: Topology,
  opts: CertsOptions & { timeoutMs?: number },
): Promise<number> {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  if (!topology.fleet.tls.grpc && !topology.fleet.tls.http) {
    throw new TlsMaterialError(
      `${topology.source}: tls.grpc and tls.http are both false: no server of the fleet has a certificate to rotate.\n` +
        "  fix: remove tls: { grpc: false, http: false } and run up",
    );
  }
  if (runtime.name === "kubernetes")
    return rotateKube(runtime as Runtime & RotatesCerts, topology, opts, write);
  const r = await rotateLocalCerts(topology, opts.stateDir);
  if (opts.json) {
    write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  write(
    `renewed ${r.renewed.length} server certificate(s) in ${opts.stateDir}/${TLS_DIR}/servers on their own keys ` +
      `(the CA unchanged) in ${(r.ms / 1000).toFixed(1)} s\n`,
  );
  for (const c of r.clients) write(renewedLine(c, opts.stateDir));
  for (const c of r.storage) write(renewedLine(c, opts.stateDir, "storage cluster's certificate"));
  write(
    r.running
      ? `replaced ${r.replacedFiles} copies in the running processes in place; nothing restarted: each server presents its new certificate from its next TLS handshake\n`
      : "no local fleet runs: the next 'thanos-fleet up' uses them\n",
  );
  if (r.restartPending.length > 0) {
    write(
      `${r.restartPending.length} Thanos process(es) keep the previous http-client certificate (still valid) until the ` +
        `next 'thanos-fleet up' restarts them: ${r.restartPending.join(", ")}. Thanos v0.42.4's HTTP clients do not ` +
        "re-read a renewed client certificate (pkg/clientconfig/http.go gives prometheus/common no CA to rebuild with)\n",
    );
  }
  return 0;
}

/** Kubernetes: the Secrets written in place, then each server pod asked until it presents the new certificate. */
async function rotateKube(
  runtime: Runtime & RotatesCerts,
  topology: Topology,
  opts: CertsOptions & { timeoutMs?: number },
  write: (text: string) => void,
): Promise<number> {
  const progress = opts.json ? () => {} : (line: string) => write(`${line}\n`);
  try {
    const r = await runtime.rotateCerts(topology, {
      stateDir: opts.stateDir,
      progress,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    const late = r.pods.filter((p) => !p.presented);
    if (opts.json) {
      write(`${JSON.stringify(r, null, 2)}\n`);
      return late.length > 0 ? 1 : 0;
    }
    const issuer = topology.fleet.tls.issuer;
    write(
      issuer
        ? `cert-manager re-issued ${r.renewed.length} Certificate(s) from ${issuer.kind} ${issuer.name} on their own keys ` +
            "(rotationPolicy Never; the fleet CA unchanged); no pod restarted\n"
        : `renewed ${r.renewed.length} server certificate(s) in ${opts.stateDir}/${TLS_DIR}/servers on their own keys ` +
            "(the CA unchanged)\n",
    );
    for (const c of r.clients) write(renewedLine(c, opts.stateDir));
    for (const c of r.storage) write(renewedLine(c, opts.stateDir, "storage cluster's certificate"));
    if (!r.running) {
      write(
        "no fleet is up on Kubernetes from this state dir: the next 'thanos-fleet up' writes them into its Secrets\n",
      );
      return 0;
    }
    if (!issuer)
      write(`wrote ${r.secrets.length} Secret(s) in place: ${r.secrets.join(", ")}; no pod restarted\n`);
    if (r.renewedObjects.length > 0) {
      write(
        `wrote ${r.renewedObjects.length} object(s) holding a client or storage certificate in place: ${r.renewedObjects.join(", ")}; ` +
          "Thanos and Prometheus read it at their next handshake, SeaweedFS within seconds, once the kubelet updates the files\n",
      );
    }
    if (r.renewedObjectsDeferred.length > 0) {
      write(
        `left ${r.renewedObjectsDeferred.length} object(s) to the next 'thanos-fleet up', which rolls their workloads: ` +
          `${r.renewedObjectsDeferred.join(", ")} (Thanos v0.42.4's HTTP clients do not re-read a renewed client ` +
          "certificate; MinIO gets its renewed one by that rollout; until then they present the previous one, still valid)\n",
      );
    }
    for (const c of r.grafanaRestarted) {
      write(
        `${c}: restarted Grafana (rollout restart deployment/${GRAFANA_DEPLOYMENT}): it reads its datasource's client certificate only when it provisions\n`,
      );
    }
    write(
      table(
        ["SERVER", "POD", "PRESENTS THE NEW CERTIFICATE"],
        r.pods.map((p) => [
          p.server.replace(/^kube@/, ""),
          p.pod,
          p.presented
            ? `yes, after ${((p.afterMs ?? 0) / 1000).toFixed(0)} s`
            : `no (serial ${p.serial ?? "none answered"})`,
        ]),
      ),
    );
    write(`in ${(r.ms / 1000).toFixed(1)} s\n`);
    if (late.length > 0) {
      write(
        `${late.length} server pod(s) still present the old certificate: the kubelet may not have synced the Secret yet; ` +
          "run 'thanos-fleet certs rotate' again later, or restart the named pods\n",
      );
      return 1;
    }
    return 0;
  } finally {
    await runtime.close?.();
  }
}
