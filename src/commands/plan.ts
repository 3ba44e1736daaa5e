// `thanos-fleet plan`: prints the ordered steps for the current config, each with the commands a person could run.

import { readDiscoveredAddresses } from "../render/addresses.ts";
import { renderFleet } from "../render/render.ts";
import { DEFAULT_OUT } from "../render/runbook.ts";
import type { PlanStep } from "../render/types.ts";
import { GRPC_SERVER_NAME, HTTP_SERVER_NAME, S3_SERVER_NAME } from "../state/tls.ts";
import type { Topology } from "../topology/topology.ts";
import { checkRenderInputs } from "./inputs.ts";

/** The plan depends on the topology, never on credentials: these stand in for them and appear in no step. */
const STAND_IN = {
  minioRoot: { user: "plan", password: "plan" },
  thanos: { accessKey: "plan", secretKey: "plan" },
  grafana: { user: "plan", password: "plan" },
};

/** plan creates nothing, so no certificates either: the steps are the same whatever their content. */
const STAND_IN_TLS = {
  ca: "plan",
  cert: "plan",
  key: "plan",
  clientCert: "plan",
  clientKey: "plan",
  serverName: GRPC_SERVER_NAME,
};
const STAND_IN_S3_TLS = {
  ca: "plan",
  cert: "plan",
  key: "plan",
  internalCert: "plan",
  internalKey: "plan",
  serverName: S3_SERVER_NAME,
};

export async function planCommand(
  topology: Topology,
  opts: { stateDir: string; stdout?: NodeJS.WritableStream },
): Promise<PlanStep[]> {
  const stdout = opts.stdout ?? process.stdout;
  await checkRenderInputs(topology);
  // Reads what `up` discovered, if anything; creates nothing (no state dir, no credentials).
  const discovered = await readDiscoveredAddresses(opts.stateDir);
  const grpcTls = topology.fleet.tls.grpc ? STAND_IN_TLS : undefined;
  const s3Tls = topology.storage && topology.fleet.tls.s3 ? STAND_IN_S3_TLS : undefined;
  const fleet = renderFleet(topology, {
    credentials: STAND_IN,
    discovered,
    outDir: DEFAULT_OUT,
    grpcTls,
    ...(topology.fleet.tls.http ? { httpTls: { ...STAND_IN_TLS, serverName: HTTP_SERVER_NAME } } : {}),
    s3Tls,
    ...(topology.fleet.tls.issuer ? { issuerCa: "plan" } : {}),
  });
  const out: string[] = [
    `${fleet.plan.length} steps for ${topology.source} (${fleet.clusters.map((c) => `${c.cluster}: ${c.role}`).join(", ")})`,
    "",
  ];
  fleet.plan.forEach((step, i) => {
    out.push(`${i + 1}. ${step.title}`);
    if (step.why) out.push(`   ${step.why}`);
    for (const c of step.commands) out.push(`   $ ${c}`);
    out.push("");
  });
  stdout.write(out.join("\n"));
  return fleet.plan;
}
