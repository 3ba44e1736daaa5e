// The Thanos sidecar next to each Prometheus replica: its args, its per-replica Service on NodePorts the other
// clusters dial, and the StoreAPI it serves.

import { workloadNodePort } from "../../topology/semantics.ts";
import type { Topology, Workload } from "../../topology/topology.ts";
import { stringify } from "../../yaml.ts";
import { POD_IP, type SpecContext } from "../context.ts";
import type { Sizing } from "../resources.ts";
import type { Container, ServiceSpec, StoreApiServer } from "../types.ts";
import { uniqueFiles, webClient, webServer } from "../web.ts";
import { GRPC_PORT, grpcServerTls, HTTP_PORT, listenArgs, objstore, thanosContainer } from "./common.ts";

/** The sidecar's HTTP client config for its own Prometheus (its `tls_config`), with `tls.http`. */
export const PROMETHEUS_CLIENT_FILE = "prometheus-http-client.yaml";
export const SIDECAR_SIZING: Sizing = { memory: 64, limit: 256, cpu: 25 };

/** The labels a workload cluster's replica serves over the StoreAPI. */
export function prometheusLabels(workload: Workload, pod: string): Record<string, string> {
  return { ...workload.labels, prometheus_replica: pod };
}

/** The Service of replica i's sidecar alone, exposed on the workload cluster's node ports to the other clusters. */
export function sidecarServiceName(i: number): string {
  return `thanos-sidecar-${i}`;
}

/** The NodePort of replica i's sidecar gRPC (StoreAPI): one per replica (WORKLOAD_NODE_PORTS). */
export function sidecarGrpcNodePort(w: Workload, i: number): number {
  return workloadNodePort(w, "sidecarGrpc", i);
}

function sidecarHttpNodePort(w: Workload, i: number): number {
  return workloadNodePort(w, "sidecarHttp", i);
}

/** The sidecar of each Prometheus replica (the `workload` pods): the args the Prometheus Operator gives it. */
export function sidecarContainer(topology: Topology, ctx: SpecContext, workload: string): Container {
  const store = objstore(ctx, workload, "thanos-sidecar");
  const tls = grpcServerTls(ctx, workload, "thanos-sidecar");
  const dir = ctx.configDir(workload, "thanos-sidecar");
  // Its HTTP port is on a NodePort (with `tls.http`: HTTPS, the fleet's client certificates), and so is Prometheus's:
  // the sidecar reaches Prometheus over HTTPS with the fleet's client certificate.
  const web = webServer(ctx, dir, "--http.config");
  const client = webClient(ctx, dir);
  const promClient = client.tlsConfig
    ? [`--prometheus.http-client-file=${dir}/${PROMETHEUS_CLIENT_FILE}`]
    : [];
  const probeTls = ctx.httpTls ? { tls: true } : {};
  return thanosContainer(
    topology,
    "thanos-sidecar",
    "sidecar",
    SIDECAR_SIZING,
    [
      "sidecar",
      `--prometheus.url=${client.scheme}://${ctx.listenHost === "0.0.0.0" ? "localhost" : POD_IP}:9090`,
      ...promClient,
      `--tsdb.path=${ctx.dataDir(workload, "prometheus")}`,
      ...listenArgs(ctx),
      store.arg,
      ...tls.args,
      ...web.args,
    ],
    {
      files: uniqueFiles([
        ...store.files,
        ...tls.files,
        ...web.files,
        ...client.files,
        ...(client.tlsConfig
          ? [{ name: PROMETHEUS_CLIENT_FILE, content: stringify({ tls_config: client.tlsConfig }) }]
          : []),
      ]),
      readiness: { port: "http", path: "/-/ready", ...probeTls },
      liveness: { port: "http", path: "/-/healthy", ...probeTls },
    },
  );
}

/** Replica i's sidecar Service, selecting pod `pod` of the Prometheus workload. */
export function sidecarService(w: Workload, i: number, workload: string, pod: string): ServiceSpec {
  return {
    cluster: w.name,
    name: sidecarServiceName(i),
    selector: { workload, pod },
    ports: [
      { name: "grpc", port: GRPC_PORT, targetPort: GRPC_PORT, nodePort: sidecarGrpcNodePort(w, i) },
      { name: "http", port: HTTP_PORT, targetPort: HTTP_PORT, nodePort: sidecarHttpNodePort(w, i) },
    ],
  };
}

/** Every sidecar replica of every workload cluster, dialled on its own NodePort. */
export function sidecarStoreApis(topology: Topology): StoreApiServer[] {
  return topology.workloads
    .filter((w) => w.mode === "sidecar")
    .flatMap((w) =>
      w.replicaNames.map(
        (pod, i): StoreApiServer => ({
          type: "sidecar",
          component: "sidecar",
          cluster: w.name,
          pod,
          labels: prometheusLabels(w, pod),
          container: "thanos-sidecar",
          title: "sidecar",
          unreachable: `the sidecar is down or its NodePort is unreachable from ${topology.observer.name}`,
          address: (addresses) => addresses.exposed(w.name, sidecarGrpcNodePort(w, i)),
        }),
      ),
    );
}
