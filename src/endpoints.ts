// What a running fleet reports about itself, whatever the runtime: the only thing `verify` needs besides the topology.
import type { ComponentKind, ExposureRequest } from "./components/types.ts";

export interface Target {
  cluster: string;
  component: ComponentKind | "grafana";
  /** Pod name, e.g. `thanos-query-0`. */
  pod: string;
  /** HTTP base URL reachable from where thanos-fleet runs, e.g. `http://127.77.0.12:10902`. */
  url: string;
  /** The gRPC address other clusters dial (sidecars, store gateway, rulers), when it has one. */
  grpc?: string;
}

export interface FleetEndpoints {
  runtime: "local" | "kubernetes";
  targets: Target[];
  /** The query-frontend URL a person or Grafana uses. */
  queryFrontend: string;
  objectStore: {
    /** Base URL of the S3 endpoint as reachable from here. */
    url: string;
    bucket: string;
    accessKey: string;
    secretKey: string;
    region?: string;
    /** With the storage cluster's HTTPS: the fleet CA (PEM) and the name the S3 certificate is verified against. */
    ca?: string;
    serverName?: string;
    /** Every host:port of the storage cluster reachable from here (a storage cluster the runtime runs). */
    doors?: string[];
    /**
     * A bucket other than the fleet's, made by the storage cluster's admin identity: verify proves with it that
     * Thanos's key may not read or delete other buckets. Absent for an external object store.
     */
    scopeCheckBucket?: string;
  };
  grafana?: { cluster: string; url: string; user: string; password: string }[];
  /** With `grafana: false`: each workload cluster's Grafana datasource ConfigMap, as found (Kubernetes runtime). */
  grafanaDatasources?: GrafanaDatasourceConfigMap[];
  /**
   * The TSDB block length the fleet runs with (the SpecContext's blockDuration, e.g. "2h"): verify tells
   * "no block yet" (pending) from "no block" (failure) with it. When absent, verify reads Prometheus's flags.
   */
  blockDuration?: string;
  /** How often store gateway and compactor re-read the bucket (the SpecContext's bucketSyncInterval); else read from the store's flags. */
  bucketSyncInterval?: string;
  /**
   * When the fleet was last brought up from nothing (ISO time): a hole in the global view that began before it is
   * the time the fleet was down, not a fault of the running fleet. Absent: every hole in the window counts.
   */
  upSince?: string;
  /**
   * Per workload cluster, when its Prometheus was last made from nothing (ISO time; the Kubernetes runtime reads it from
   * the cluster): a hole in that cluster's view that began before it is not a fault either. Where both are given, the
   * later of this and upSince counts.
   */
  clusterUpSince?: Record<string, string>;
  /**
   * With `tls.http`: the fleet's client certificate, its key and the CA, as files in the state dir; every request
   * thanos-fleet sends to an HTTPS server of the fleet presents them.
   */
  httpTls?: { ca: string; cert: string; key: string; serverName: string };
  /** Every HTTP port that leaves its cluster (a NodePort), as reached from here: verify's exposure check dials each. */
  exposedHttp?: ExposedHttp[];
  /** The local runtime's supervisor as found when the endpoints were read (absent on Kubernetes). */
  supervisor?: LocalSupervision;
}

export interface ExposedHttp {
  cluster: string;
  /** `<Service>/<port>`, e.g. `thanos-query-frontend/http`. */
  name: string;
  component: ComponentKind;
  /** Base URL on the node address and NodePort, `https://` when it serves TLS. */
  url: string;
  /** Serves HTTPS and asks for the fleet's client certificate (`tls.http`). */
  tls: boolean;
  /**
   * How the port is asked when it is not a web config's (receive's remote write): the request, and the name its own
   * certificate is verified against. Absent: GET /-/healthy.
   */
  request?: ExposureRequest;
}

/** Whether the local supervisor runs (it starts a process that dies again) and the processes it holds down. */
export interface LocalSupervision {
  running: boolean;
  pid?: number;
  /** Processes held down on purpose (a drill's fault): the supervisor leaves them dead until `up`. */
  held: { cluster: string; pod: string; container: string; component: string }[];
}

export interface GrafanaDatasourceConfigMap {
  cluster: string;
  /** namespace/name of the ConfigMap. */
  configMap: string;
  /** Its labels and its datasource file, or undefined when it does not exist. */
  found?: { labels: Record<string, string>; datasources: string };
  /** The query-frontend URL the fleet wired into the datasource: mgmt as the other clusters reach it. */
  expectedUrl: string;
  /**
   * With `tls.http`: the files a Grafana mounts for the datasource's `$__file{…}` references (the CA, the client
   * certificate and key), by path, as the cluster's Secret holds them; verify makes the datasource's request with them.
   */
  files?: Record<string, string>;
}
