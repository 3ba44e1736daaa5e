// `thanos-fleet init`: writes the default fleet as a commented fleet.yaml, every key shown with its default.
import { writeFile } from "node:fs/promises";
import { ConfigError } from "../topology/errors.ts";
import { PINNED } from "../versions.ts";

function workload(name: string): string {
  return `  - name: ${name}
    role: workload
    serviceType: NodePort
    # sidecar: query dials a Thanos sidecar beside each Prometheus replica (its NodePorts below). receive: each
    # replica remote-writes (HTTPS, mutual TLS, tenant = this cluster's name) to mgmt's Thanos Receive and runs no
    # sidecar; nothing dials into this cluster. One fleet may mix both.
    mode: sidecar
    # External labels of this cluster's Prometheus; \`cluster: <name>\` is added unless set here. Each workload
    # cluster needs its own label set: the compactor halts on overlapping blocks from identical ones.
    # prometheus_replica is set per replica by the Prometheus Operator; do not set it. Names the fleet's alerts and
    # rules use (severity, alertname, job, instance, __*) are refused, and so is "{{" in a value: alert labels
    # are Go templates.
    externalLabels: {}
    prometheus:
      replicas: 2               # at least 2 for HA: query deduplicates them on prometheus_replica
      retention: 5d             # local TSDB retention; the bucket keeps the rest
      scrapeInterval: 15s
    nodePorts:                  # 30000-32767, unique within the cluster; replica i uses base + i
      sidecarGrpc: 31000        # Thanos sidecar StoreAPI (gRPC), dialled by mgmt's query
      sidecarHttp: 31100        # Thanos sidecar HTTP (metrics, /-/ready); not gRPC
      prometheus: 30090         # Prometheus web UI
      alertmanager: 30903
      grafana: 30300
    # kube-prometheus-stack values of your own for this cluster, merged over the fleet-wide ones below.
    kubePrometheusStackValues: {}
`;
}

/** The default fleet.yaml, identical in meaning to running with no --config. */
export function defaultFleetYaml(): string {
  return `# fleet.yaml: the topology thanos-fleet builds. Every key is shown with its default value;
# delete the ones you do not change. 'thanos-fleet plan -c fleet.yaml' shows what this leads to.

# S3 bucket holding every block (3-63 lowercase letters, digits, '.' and '-').
bucket: thanos

# Requests and limits of every component: small (four kind clusters on one laptop), medium or large.
profile: small

# Pinned versions. One Thanos version everywhere, the sidecar included.
versions:
  thanos: ${PINNED.thanos}                  # image ${PINNED.thanosImage}
  prometheus: ${PINNED.prometheus}
  alertmanager: ${PINNED.alertmanager}
  kubePrometheusStack: ${PINNED.kubePrometheusStack}          # Helm chart of each workload cluster (no leading v)
  kindNodeImage: ${PINNED.kindNodeImage}
  seaweedfs: "${PINNED.seaweedfs}"           # storage server by default: image chrislusf/seaweedfs:<this>; built for the local runtime
  minio: ${PINNED.minio}   # only with server: minio (Kubernetes): image ${PINNED.minioImage}:<this>, the last one published; never built here

# How long the compactor keeps each resolution in the bucket; 0d keeps it for ever. The compactor downsamples
# raw data after 40h and 5m data after 10d, so raw is at least 40h and fiveMinutes at least 10d (or 0d).
retention:
  raw: 30d
  fiveMinutes: 90d
  oneHour: 1y

# TSDB block length and how often bucket readers re-list the bucket. Unset: 2h and 3m on Kubernetes, 2m and
# 15s on the local runtime. Short blocks (e.g. 5m) show the sidecar -> bucket -> store gateway path within
# minutes on a demo or test fleet; production keeps 2h.
blocks: {}
#   duration: 2h
#   syncInterval: 3m

# An S3 endpoint of your own instead of the storage cluster (remove the storage cluster when you set it):
# objectStore:
#   endpoint: s3.example.com:443          # host:port, no scheme
#   insecure: false                       # true for plain HTTP
#   region: eu-west-1
#   credentialsFile: s3-credentials.yaml  # access_key and secret_key, kept out of this file

# Mutual TLS on the StoreAPI gRPC between clusters (query to sidecars, store gateway, rulers), on by default. A
# fleet CA and certificates are generated once into the state dir; plaintext clients are refused. false gives the
# guide's plaintext, anonymous StoreAPI (up warns).
# HTTPS on every HTTP server whose port leaves its cluster (query-frontend, query, bucket web, compactor,
# Alertmanager, each Prometheus), on by default: the server certificate is signed by the fleet CA and only clients
# with the fleet's client certificate get in (state dir: tls/ca.crt, tls/http-client.crt, tls/http-client.key).
# false gives the guide's plaintext, anonymous HTTP APIs (up warns).
# s3: HTTPS to the storage cluster's S3 API, its certificate from the fleet CA, which every Thanos objstore config
# verifies; false gives the guide's plain HTTP (up warns).
# ca: your own CA (PEM paths, relative to this file) signs the fleet's certificates instead of one thanos-fleet makes;
# its key is read where it is, never copied. Each server gets its own 90-day certificate from it
# ('thanos-fleet certs' lists them, 'thanos-fleet certs rotate' renews them).
# issuer (Kubernetes only, instead of ca): a cert-manager ClusterIssuer (or Issuer) makes each server's certificate;
# ca is the PEM certificate of the CA it signs with, which every client trusts beside the fleet CA. Every cluster
# needs cert-manager and that issuer, signing with the same CA.
tls:
  grpc: true
  http: true
  s3: true
  # ca: { cert: my-ca.pem, key: my-ca-key.pem }
  # issuer: { name: fleet-ca, kind: ClusterIssuer, ca: issuer-ca.pem }

# Grafana in each workload cluster. false: no Grafana (bring your own); the chart still renders the "Thanos"
# datasource as a ConfigMap labelled grafana_datasource: "1", which Grafana's sidecar picks up.
grafana: true

# kube-prometheus-stack from a local chart directory or .tgz instead of its Helm repository (air-gapped installs).
# Its Chart.yaml version must be versions.kubePrometheusStack; a directory needs its dependencies in charts/.
# chart:
#   path: ./kube-prometheus-stack-${PINNED.kubePrometheusStack}.tgz

# Images, for air-gapped installs and mirrors:
# images:
#   # An image archive ('thanos-fleet images save FILE') loaded into every kind node before anything is installed
#   # (same as 'up --images FILE'); relative paths are relative to this file.
#   archive: images.tar
#   # A registry mirror in front of every image name: mirror.example.com/ gives
#   # mirror.example.com/quay.io/thanos/thanos:${PINNED.thanos} (for clusters that pull through a mirror).
#   registry: mirror.example.com/
images: {}

# kube-prometheus-stack values of your own for every workload cluster, merged over the rendered ones (maps merge,
# lists and values replace, null deletes). Keys the fleet sets itself (external labels, the sidecar, replicas,
# retention, NodePorts, Grafana's admin, ...) are refused with the fleet.yaml field to use instead. Example, for
# images that cannot be had:
#   kubeStateMetrics: { enabled: false }
#   prometheusOperator: { admissionWebhooks: { enabled: false }, tls: { enabled: false } }
kubePrometheusStackValues: {}

# Local runtime only: programs to run instead of the pinned builds: thanos, prometheus, alertmanager, weed or
# haproxy, e.g. thanos: /usr/local/bin/thanos (relative paths are relative to this file). The local runtime runs the
# pinned releases of versions above; another release of one needs its binary here.
binaries: {}

# The clusters. A cluster without \`context:\` is created with kind; with \`context: <kube context>\` an existing
# cluster is used. serviceType NodePort (or LoadBalancer) is how the clusters reach each other.
clusters:
  # The observer, exactly one: query, query-frontend, store gateway, compactor (always one), ruler, bucket web
  # and the Alertmanager the ruler sends to.
  - name: mgmt
    role: observer
    # context: my-existing-cluster
    serviceType: NodePort
    queryReplicas: 2
    rulerReplicas: 2            # HA pair, deduplicated on ruler_replica
    nodePorts:                  # 30000-32767, unique within the cluster
      queryFrontend: 30900      # what Grafana and people query
      alertmanager: 30903
      query: 30904
      bucketWeb: 30905
      compactor: 30906          # the compactor's metrics, scraped by the workload clusters (its halted alert)
    # Thanos Receive, run only when a workload cluster has mode: receive: stateless routers behind one
    # remote-write endpoint, ingesters that keep a TSDB each and upload its blocks (a static ketama hashring).
    receive:
      replicationFactor: 3      # copies of each series; a write needs a majority: odd, at most ingesters
      routers: 2                # at least 2
      ingesters: 3              # at least 3
      nodePort: 30907           # the remote-write endpoint (HTTPS, client certificates from the fleet CA)

  # Workload clusters, as many as you like: Prometheus replicas with a Thanos sidecar each, Grafana
  # (with a "Thanos" datasource pointing at mgmt's query-frontend) and an Alertmanager.
${workload("biz1")}
${workload("biz2")}
  # The storage cluster: the S3 server with the bucket and a key for Thanos allowed only on that bucket. Its
  # name stays the guide's even though SeaweedFS is the default server.
  - name: minio
    role: storage
    # context: my-existing-cluster
    serviceType: NodePort
    # seaweedfs (Apache-2.0; the store Thanos's own e2e tests use; every runtime) or minio (Kubernetes only: the
    # quay.io/minio/minio image your cluster pulls; MinIO is archived upstream and AGPL, so it is never built here).
    server: seaweedfs
    nodePorts:
      api: 32000                # S3 API
      console: 32001            # MinIO console; with SeaweedFS its Prometheus metrics
`;
}

export async function initCommand(
  file: string,
  opts: { force: boolean; stdout?: NodeJS.WritableStream },
): Promise<void> {
  try {
    await writeFile(file, defaultFleetYaml(), { flag: opts.force ? "w" : "wx" });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new ConfigError(file, [
        {
          field: "",
          message: "already exists",
          fix: "pass --force to overwrite it, or --out to write another file",
        },
      ]);
    }
    throw new Error(`cannot write ${file}; check that its directory exists and is writable`, { cause });
  }
  (opts.stdout ?? process.stdout).write(
    `wrote ${file}: the default fleet, every key with its default; next: thanos-fleet plan -c ${file}\n`,
  );
}
