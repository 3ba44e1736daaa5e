// `thanos-fleet status`: one row per process or pod, or JSON with every endpoint URL.
import type { Runtime } from "../runtimes/runtime.ts";
import { httpClientFiles } from "../state/tls.ts";
import type { Topology } from "../topology/topology.ts";
import { table } from "../ui/table.ts";

export async function statusCommand(
  runtime: Runtime,
  topology: Topology,
  opts: { stateDir: string; json: boolean },
): Promise<number> {
  const rows = await runtime.status(topology, { stateDir: opts.stateDir });
  // Where the credentials of a running fleet are, never what they are: the same files on every runtime. Locally each
  // server has its own certificate for its addresses; on Kubernetes they share one, for a pinned name.
  const credentials =
    topology.fleet.tls.http && rows.length > 0
      ? runtime.name === "local"
        ? httpClientFiles(opts.stateDir, "")
        : // With a cert-manager Issuer, the servers' certificates come from its CA: the bundle trusts both.
          topology.fleet.tls.issuer
          ? httpClientFiles(opts.stateDir, "", { bundle: true })
          : httpClientFiles(opts.stateDir)
      : undefined;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ runtime: runtime.name, processes: rows, ...(credentials ? { httpClientCertificate: { ca: credentials.ca, cert: credentials.cert, key: credentials.key } } : {}) }, null, 2)}\n`,
    );
  } else if (rows.length === 0) {
    process.stdout.write(`no fleet is running (runtime ${runtime.name}); start one with 'thanos-fleet up'\n`);
  } else {
    const withState = rows.some((r) => r.state !== undefined);
    process.stdout.write(
      table(
        [
          "CLUSTER",
          "COMPONENT",
          "POD",
          "PID",
          "ADDRESS",
          "READY",
          "RESTARTS",
          ...(withState ? ["STATE"] : []),
        ],
        rows.map((r) => [
          r.cluster,
          r.component,
          r.pod,
          r.pid?.toString() ?? "-",
          r.address,
          r.ready ? "yes" : "no",
          String(r.restarts),
          ...(withState ? [r.state ?? ""] : []),
        ]),
      ),
    );
    process.stdout.write(
      credentials
        ? `\nHTTPS: every HTTP port outside its cluster answers only the fleet's client certificate ${credentials.cert} ` +
            `(key ${credentials.key}), and presents ${credentials.serverName ? `a certificate for ${credentials.serverName}` : "its own certificate for the addresses it serves"} from the CA ${credentials.ca}; ` +
            "`thanos-fleet certs` lists them\n"
        : "\ntls.http is false: every HTTP port outside its cluster is plaintext and anonymous\n",
    );
    // A crash loop is shown with how the process last ended and the end of its log.
    for (const r of rows.filter((x) => x.logTail !== undefined)) {
      process.stdout.write(
        `\n${r.cluster}/${r.pod} (${r.component}) is in a crash loop: ${r.restarts} restarts, last ${r.lastExit ?? "ended"}${r.logTail}\n`,
      );
    }
  }
  return rows.length > 0 && rows.every((r) => r.ready) ? 0 : 1;
}
