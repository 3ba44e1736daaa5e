// `thanos-fleet up`: brings the fleet up on a runtime and ends with verify on the endpoints that runtime reports.

import type { CloseVerify, Runtime } from "../runtimes/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import { createReporter } from "../ui/reporter.ts";
import { EXPOSURE } from "../verify/checks/exposure.ts";
import { GAPS } from "../verify/checks/gaps.ts";
import { STORAGE_DOORS } from "../verify/checks/storage-doors.ts";
import { formatReport } from "../verify/report.ts";
import type { VerifyOptions } from "../verify/verify.ts";
import { verifyFleetUntil } from "../verify/wait.ts";

/**
 * How long the verify that ends `up` waits for the fleet to settle. Kubernetes pods and load balancers take minutes
 * to be reachable; local processes are ready when `up` started them, so a minute lets discovery settle.
 */
export const CLOSING_VERIFY_WAIT_MS: Record<Runtime["name"], number> = {
  kubernetes: 5 * 60_000,
  local: 60_000,
};

/**
 * The verify that ends `up`, the same rule on every runtime: verify --wait until nothing fails and what is pending
 * cannot arrive before the deadline; a check that still fails then fails `up`. Pending is not failure: checks that
 * need shipped blocks stay pending on a fresh fleet, and the table says how to prove them later.
 */
export function closingVerify(
  waitMs: number,
  deps: VerifyOptions & { intervalMs?: number } = {},
): CloseVerify {
  return async (topology, opts) => {
    const report = await verifyFleetUntil(topology, opts.endpoints, {
      ...deps,
      // A hole in the view that happened before `up` is history up cannot repair; `verify` reports it. Open HTTP
      // ports with `tls.http: false` and plain S3 with `tls.s3: false` are what the user asked for (up warned):
      // `verify` lists them.
      skip: [
        ...(deps.skip ?? []),
        GAPS.id,
        ...(topology.fleet.tls.http ? [] : [EXPOSURE.id]),
        ...(topology.fleet.tls.s3 ? [] : [STORAGE_DOORS.id]),
      ],
      waitMs,
      signal: opts.signal,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const text = formatReport(report);
    if (!report.ok) throw new Error(`verify found failures:\n${text}`);
    const hint =
      report.summary.pending > 0
        ? "pending checks wait for data that takes time (shipped blocks): run 'thanos-fleet verify --wait 5m'\n"
        : "";
    return { ok: true, text: `${text}${hint}` };
  };
}

export interface UpCommandOptions {
  stateDir: string;
  verbose: boolean;
  signal: AbortSignal;
  /** False with `--no-verify`. */
  verify: boolean;
  /** `--images FILE`: an image archive to load into the kind nodes first. */
  images?: string;
}

export async function upCommand(runtime: Runtime, topology: Topology, opts: UpCommandOptions): Promise<void> {
  if (opts.images && runtime.name !== "kubernetes") {
    throw Object.assign(
      new Error("--images loads images into kind nodes: use it with --runtime kubernetes"),
      { exitCode: 2 },
    );
  }
  if (!topology.fleet.tls.grpc) {
    process.stderr.write(
      "warning: tls.grpc is false: the StoreAPI gRPC between clusters is plaintext and anyone who reaches a " +
        "NodePort can read every series; remove 'grpc: false' from fleet.yaml to have mutual TLS\n",
    );
  }
  if (!topology.fleet.tls.http) {
    process.stderr.write(
      "warning: tls.http is false: every HTTP API exposed outside its cluster (query-frontend, query, Alertmanager, " +
        "Prometheus with /-/quit) is plaintext and anonymous; remove 'http: false' from fleet.yaml to have HTTPS " +
        "with the fleet's client certificate\n",
    );
  }
  if (!topology.fleet.tls.s3 && topology.storage) {
    process.stderr.write(
      "warning: tls.s3 is false: S3 to the storage cluster is plain HTTP and its keys and blocks cross the " +
        "network readable; remove 's3: false' from fleet.yaml to have HTTPS\n",
    );
  }
  await runtime.up(topology, {
    stateDir: opts.stateDir,
    verbose: opts.verbose,
    signal: opts.signal,
    reporter: createReporter({ verbose: opts.verbose }),
    ...(opts.verify ? { verify: closingVerify(CLOSING_VERIFY_WAIT_MS[runtime.name]) } : {}),
    ...(opts.images ? { images: opts.images } : {}),
  });
}
