// What a runtime hands the component specs: where things listen and live, and how clusters reach each other.
import type { GrpcTls, HttpTls, S3Tls } from "../state/tls.ts";
import { podName } from "./types.ts";

export type { GrpcTls, HttpTls, S3Tls };

/** Kubernetes-style placeholder for the pod's own IP; the local runtime substitutes the pod's loopback address. */
export const POD_IP = "$(POD_IP)";

export const NAMESPACE = "monitoring";

export interface ObjectStoreAccess {
  /** host:port, no scheme, as Thanos's objstore config takes it. */
  endpoint: string;
  bucket: string;
  insecure: boolean;
  region?: string;
  accessKey: string;
  secretKey: string;
}

export interface Addresses {
  /** A Service port as seen from inside its own cluster. */
  service(cluster: string, service: string, port: number): string;
  /** Replica i of a workload, as seen from inside its own cluster. */
  pod(cluster: string, workload: string, index: number, port: number): string;
  /** An exposed (NodePort) port, as seen from any cluster. */
  exposed(cluster: string, nodePort: number): string;
}

export interface SpecContext {
  /** Address processes bind: "0.0.0.0" in a pod, POD_IP locally. */
  listenHost: string;
  /** Directory holding a container's config files. */
  configDir(workload: string, container: string): string;
  /** Directory holding a container's data; may contain POD_NAME. */
  dataDir(workload: string, container: string): string;
  addresses: Addresses;
  objectStore: ObjectStoreAccess;
  /** TSDB block length; 2h in production, minutes in the local runtime's tests. */
  blockDuration: string;
  /** How often store gateway, compactor and bucket web re-read the bucket. */
  bucketSyncInterval: string;
  /** Local runtime: path of the demo workload script. */
  demoScript?: string;
  /** Local runtime: the first of SeaweedFS's gRPC ports, distinct per fleet (see seaweedfsGrpcPorts). */
  seaweedfsGrpcBase?: number;
  /** Set when fleet.yaml says `tls: { grpc: true }`. */
  grpcTls?: GrpcTls;
  /**
   * Kubernetes: the chart's Prometheus Operator runs each workload cluster's Prometheus and its sidecar, and gives the
   * sidecar a client config of its own for Prometheus (TLS without a client certificate).
   */
  operatorRunsPrometheus?: boolean;
  /** Set when fleet.yaml says `tls: { http: true }` (the default): HTTPS on the HTTP ports that leave a cluster. */
  httpTls?: HttpTls;
  /** Set when the fleet has a storage cluster and fleet.yaml says `tls: { s3: true }`. */
  s3Tls?: S3Tls;
  /**
   * Where the runtime puts the fleet CA for every Thanos objstore config, when one path for all (Kubernetes: the
   * objstore Secret is shared); else each container has it beside its objstore.yml.
   */
  objstoreCaFile?: string;
}

/** Addresses that only record shape: the fleet built with them tells which pods and Services exist. */
export const shapeAddresses: Addresses = {
  service: (cluster, service, port) => `${service}.${cluster}:${port}`,
  pod: (cluster, workload, index, port) => `${podName(workload, index)}.${cluster}:${port}`,
  exposed: (cluster, nodePort) => `${cluster}:${nodePort}`,
};
