// One test per defect of the hand-run guide this tool replaces (see the README's opening), numbered 1 to 14 with a
// title each: every test passes on what render produces and fails on the guide's version of the same part.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { generateCredentials } from "../state/credentials.ts";
import { parseFleet } from "../topology/load.ts";
import { usesReceive } from "../topology/semantics.ts";
import type { Topology } from "../topology/topology.ts";
import { PINNED } from "../versions.ts";
import { fleetFiles, type RenderedFile } from "./files.ts";
import { bucketPolicy } from "./minio.ts";
import { CREDENTIAL_STRINGS, configs, kindAddresses, render } from "./testdata/fixtures.ts";
import type { KubeObject, RenderedCluster, RenderedFleet } from "./types.ts";

type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; valueFrom?: unknown }[];
};
type Template = { spec: { containers: Container[] } };

function cluster(fleet: RenderedFleet, role: RenderedCluster["role"]): RenderedCluster[] {
  return fleet.clusters.filter((c) => c.role === role);
}

function observer(fleet: RenderedFleet): RenderedCluster {
  const [mgmt] = cluster(fleet, "observer");
  assert.ok(mgmt);
  return mgmt;
}

function find(rc: RenderedCluster, kind: string, name: string): KubeObject {
  const obj = rc.manifests.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(obj, `${rc.cluster}: no ${kind} ${name}`);
  return obj;
}

function containers(obj: KubeObject): Container[] {
  return (obj.spec as { template: Template }).template.spec.containers;
}

function argsOf(rc: RenderedCluster, kind: string, name: string): string[] {
  return containers(find(rc, kind, name)).flatMap((c) => c.args ?? []);
}

/** The StoreAPI addresses query fans out to, from its endpoint config file. */
function queryEndpoints(fleet: RenderedFleet): string[] {
  const cm = find(observer(fleet), "ConfigMap", "thanos-query-config");
  const file = (cm.data as Record<string, string>)["endpoints.yaml"];
  assert.ok(file, "query has no endpoints.yaml");
  return (parse(file) as { endpoints: { address: string }[] }).endpoints.map((e) => e.address);
}

function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === "object") return Object.values(value).flatMap(strings);
  return [];
}

/** Every image reference a person's cluster would pull because of what we render. */
function images(fleet: RenderedFleet): string[] {
  const out: string[] = [];
  for (const rc of fleet.clusters) {
    for (const o of rc.manifests.filter((x) => ["Deployment", "StatefulSet", "Job"].includes(x.kind))) {
      out.push(...containers(o).map((c) => c.image));
    }
    if (rc.helmValues) {
      const v = values(rc);
      const part = (i: ImageParts) => `${i.registry}/${i.repository}:${i.tag}`;
      out.push(
        part(v.prometheusOperator.thanosImage),
        part(v.prometheus.prometheusSpec.image),
        v.prometheus.prometheusSpec.thanos.image,
        part(v.alertmanager.alertmanagerSpec.image),
      );
    }
    if (rc.kindConfig) {
      out.push(...(rc.kindConfig.nodes as { image: string }[]).map((n) => n.image));
    }
  }
  return out;
}

function toMiB(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  assert.ok(m, `unexpected quantity ${quantity}`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

function semver(tag: string): number[] {
  return tag.replace(/^v/, "").split(".").map(Number);
}

function atLeast(tag: string, min: string): boolean {
  const [a, b] = [semver(tag), semver(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

function externalStoreTopology(): Topology {
  return parseFleet(
    {
      objectStore: { endpoint: "s3.example.com:443", region: "eu-west-1", credentialsFile: "s3.yaml" },
      clusters: [
        { name: "mgmt", role: "observer" },
        { name: "biz1", role: "workload" },
      ],
    },
    "external.yaml",
  );
}

interface Defect {
  n: number;
  title: string;
  /** Passes on what render produces; throws (an assertion) on the guide's version. */
  check(topology: Topology, fleet: RenderedFleet, files: RenderedFile[]): void;
  /** Turns a rendered fleet into what the guide does, for this defect. */
  guide(topology: Topology, fleet: RenderedFleet): void;
}

function workloadCluster(fleet: RenderedFleet, name: string): RenderedCluster {
  const rc = fleet.clusters.find((c) => c.cluster === name);
  assert.ok(rc, `no cluster ${name}`);
  return rc;
}

function setEndpoints(fleet: RenderedFleet, change: (endpoints: string[]) => string[]): void {
  const cm = find(observer(fleet), "ConfigMap", "thanos-query-config");
  const data = cm.data as Record<string, string>;
  data["endpoints.yaml"] = stringify({
    endpoints: change(queryEndpoints(fleet)).map((address) => ({ address })),
  });
}

/** The same fleet with `server: minio` on its storage cluster. */
function withMinio(topology: Topology): Topology {
  return parseFleet(
    {
      ...topology.fleet,
      clusters: topology.fleet.clusters.map((c) => (c.role === "storage" ? { ...c, server: "minio" } : c)),
    },
    topology.source,
  );
}

/** The storage cluster's server StatefulSet, whichever server it runs. */
function storageServer(storage: RenderedCluster): KubeObject {
  const sts = storage.manifests.find(
    (o) => o.kind === "StatefulSet" && ["seaweedfs", "minio"].includes(o.metadata.name),
  );
  assert.ok(sts, `${storage.cluster}: no storage StatefulSet`);
  return sts;
}

/** SeaweedFS: one modest replica, identities from a Secret, a setup Job making the bucket. */
function checkSeaweedfs(topology: Topology, storage: RenderedCluster): void {
  const sts = find(storage, "StatefulSet", "seaweedfs");
  assert.equal((sts.spec as { replicas: number }).replicas, 1);
  const [server] = containers(sts) as (Container & { resources: { requests: { memory: string } } })[];
  assert.ok(server);
  assert.ok(
    toMiB(server.resources.requests.memory) <= 1024,
    `SeaweedFS asks ${server.resources.requests.memory}`,
  );
  const config = server.args?.find((a) => a.startsWith("-s3.config="));
  assert.ok(config, "SeaweedFS runs without its identities file");
  const files = storage.secrets.find((s) => "s3.json" in ((s.stringData as object | undefined) ?? {}));
  const identities = JSON.parse((files?.stringData as Record<string, string>)["s3.json"] ?? "{}") as {
    identities: { name: string; actions: string[] }[];
  };
  const thanos = identities.identities.find((i) => i.name === "thanos");
  assert.deepEqual(
    thanos?.actions,
    ["Read", "Write", "List", "Tagging"].map((a) => `${a}:${topology.fleet.bucket}`),
  );
  const [setup] = containers(find(storage, "Job", "seaweedfs-setup"));
  const bucket = setup?.env?.find((e) => e.name === "BUCKET") as { value?: string } | undefined;
  assert.equal(bucket?.value, topology.fleet.bucket);
  const script = (find(storage, "ConfigMap", "seaweedfs-setup").data as Record<string, string>)["setup.sh"];
  assert.match(script ?? "", /s3\.bucket\.create -name \$1/);
}

const DEFECTS: Defect[] = [
  {
    n: 1,
    title:
      "the storage server (SeaweedFS, or MinIO) is one replica with modest memory, its bucket created, credentials from a Secret",
    check(topology, fleet) {
      const [storage] = cluster(fleet, "storage");
      assert.ok(storage);
      if (topology.storage?.server === "seaweedfs") {
        checkSeaweedfs(topology, storage);
        // The same checks hold for MinIO, which stays as it was when fleet.yaml chooses it.
        const minioTopology = withMinio(topology);
        this.check(minioTopology, render(minioTopology), []);
        return;
      }
      const minio = find(storage, "StatefulSet", "minio");
      assert.equal((minio.spec as { replicas: number }).replicas, 1);
      const [server] = containers(minio) as (Container & { resources: { requests: { memory: string } } })[];
      assert.ok(server);
      assert.ok(
        toMiB(server.resources.requests.memory) <= 1024,
        `MinIO asks ${server.resources.requests.memory}`,
      );
      for (const key of ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]) {
        const env = server.env?.find((e) => e.name === key);
        assert.ok(
          env?.valueFrom && JSON.stringify(env.valueFrom).includes("secretKeyRef"),
          `${key} is not from a Secret`,
        );
      }
      const [setup] = containers(find(storage, "Job", "minio-setup"));
      const bucket = setup?.env?.find((e) => e.name === "BUCKET") as { value?: string } | undefined;
      assert.equal(bucket?.value, topology.fleet.bucket);
      const script = (find(storage, "ConfigMap", "minio-setup").data as Record<string, string>)["setup.sh"];
      assert.match(script ?? "", /mc mb --ignore-existing "fleet\/\$BUCKET"/);
      // The Bitnami keys the official chart silently ignores.
      const text = JSON.stringify(fleet);
      for (const key of ["rootUser", "defaultBuckets"])
        assert.ok(!text.includes(`"${key}"`), `Bitnami key ${key} rendered`);
    },
    guide(_t, fleet) {
      const [storage] = cluster(fleet, "storage");
      assert.ok(storage);
      const minio = storageServer(storage);
      (minio.spec as { replicas: number }).replicas = 16;
      (containers(minio)[0] as unknown as { resources: unknown }).resources = {
        requests: { memory: "16Gi" },
      };
      storage.manifests = storage.manifests.filter((o) => o.kind !== "Job");
    },
  },
  {
    n: 2,
    title:
      "the storage server is SeaweedFS at its pinned tag (or MinIO at a tag that was published), and the object store is pluggable",
    check(topology, fleet) {
      const [storage] = cluster(fleet, "storage");
      assert.ok(storage);
      if (topology.storage?.server === "seaweedfs") {
        const [weed] = containers(find(storage, "StatefulSet", "seaweedfs"));
        assert.equal(weed?.image, PINNED.seaweedfsImage);
        assert.equal(weed?.image, `chrislusf/seaweedfs:${PINNED.seaweedfs}`);
        const minioTopology = withMinio(topology);
        this.check(minioTopology, render(minioTopology), []);
        return;
      }
      const [server] = containers(find(storage, "StatefulSet", "minio"));
      // versions.minio is the image's tag: the one fleet.yaml gives is the one that runs.
      assert.equal(server?.image, `quay.io/minio/minio:${topology.fleet.versions.minio}`);
      // The last release (Oct 2025) is source-only: a pullable image is older.
      assert.equal(
        server?.image,
        "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
        "no image was published for it",
      );

      const external = render(externalStoreTopology());
      assert.deepEqual(cluster(external, "storage"), []);
      const secret = observer(external).secrets.find((x) => x.metadata.name === "thanos-objstore");
      const objstore = parse(
        (secret?.stringData as Record<string, string> | undefined)?.["objstore.yml"] ?? "",
      ) as {
        config: { endpoint: string; region: string };
      };
      assert.equal(objstore.config.endpoint, "s3.example.com:443");
      assert.equal(objstore.config.region, "eu-west-1");
      assert.ok(
        !JSON.stringify(external).includes("minio"),
        "a MinIO address leaked into a fleet without MinIO",
      );
    },
    guide(_t, fleet) {
      const [storage] = cluster(fleet, "storage");
      assert.ok(storage);
      const [server] = containers(storageServer(storage));
      assert.ok(server);
      server.image = "quay.io/minio/minio:RELEASE.2025-10-15T17-29-55Z";
    },
  },
  {
    n: 3,
    title: "no Bitnami image anywhere; Thanos is the official quay.io/thanos/thanos",
    check(_t, fleet) {
      const all = images(fleet);
      assert.ok(all.length > 0);
      for (const image of all) assert.doesNotMatch(image, /bitnami/, image);
      const thanos = all.filter((i) => /thanos/.test(i) && !/^kindest/.test(i));
      assert.ok(thanos.length > 0);
      for (const image of thanos) assert.match(image, /^quay\.io\/thanos\/thanos:v/, image);
    },
    guide(_t, fleet) {
      const [query] = containers(find(observer(fleet), "Deployment", "thanos-query"));
      assert.ok(query);
      query.image = "docker.io/bitnami/thanos:0.35.1-debian-12-r0";
    },
  },
  {
    n: 4,
    title: "one Thanos version everywhere, sidecar included, new enough for Prometheus 3 (>= v0.37.0)",
    check(topology, fleet) {
      const tags = new Set(
        images(fleet)
          .filter((i) => i.startsWith("quay.io/thanos/thanos:"))
          .map((i) => i.split(":")[1]),
      );
      for (const rc of cluster(fleet, "workload"))
        tags.add(values(rc).prometheus.prometheusSpec.thanos.version);
      assert.deepEqual([...tags], [topology.fleet.versions.thanos]);
      assert.ok(atLeast(topology.fleet.versions.thanos, "v0.37.0"));
      for (const rc of cluster(fleet, "workload")) {
        assert.ok(atLeast(values(rc).prometheus.prometheusSpec.version, "v3.0.0"), "expected Prometheus 3");
      }
    },
    guide(_t, fleet) {
      for (const rc of cluster(fleet, "workload")) {
        const thanos = values(rc).prometheus.prometheusSpec.thanos;
        thanos.image = "quay.io/thanos/thanos:v0.24.0";
        thanos.version = "v0.24.0";
      }
    },
  },
  {
    n: 5,
    title: "sidecar gRPC and HTTP are separate NodePorts, and gRPC is never probed with HTTP",
    check(topology, fleet) {
      const grpcPorts = new Set<number>();
      for (const w of topology.workloads) {
        const rc = workloadCluster(fleet, w.name);
        w.replicaNames.forEach((_, i) => {
          const ports = (
            find(rc, "Service", `thanos-sidecar-${i}`).spec as { ports: Record<string, number | string>[] }
          ).ports;
          const grpc = ports.find((p) => p.name === "grpc");
          const http = ports.find((p) => p.name === "http");
          assert.deepEqual([grpc?.targetPort, grpc?.nodePort], [10901, w.nodePorts.sidecarGrpc + i]);
          assert.deepEqual([http?.targetPort, http?.nodePort], [10902, w.nodePorts.sidecarHttp + i]);
          grpcPorts.add(Number(grpc?.nodePort));
        });
      }
      for (const cmd of fleet.plan.flatMap((s) => s.commands).filter((c) => /\b(curl|wget)\b/.test(c))) {
        for (const port of grpcPorts)
          assert.ok(!cmd.includes(`:${port}`), `HTTP request to the gRPC port ${port}: ${cmd}`);
      }
      const dialled = queryEndpoints(fleet).filter((e) => !e.includes(".svc.cluster.local"));
      for (const e of dialled)
        assert.ok(grpcPorts.has(Number(e.split(":")[1])), `query dials ${e}, not a sidecar gRPC port`);
    },
    guide(topology, fleet) {
      const w = topology.workloads[0];
      assert.ok(w);
      const ip = kindAddresses(topology).nodeIP[w.name];
      fleet.plan.push({
        title: "test the sidecar",
        commands: [`wget -qO- http://${ip}:${w.nodePorts.sidecarGrpc}/metrics`],
      });
    },
  },
  {
    n: 6,
    title: "each sidecar endpoint appears exactly once, at one node address per cluster",
    check(topology, fleet) {
      const nodeIP = kindAddresses(topology).nodeIP;
      const endpoints = queryEndpoints(fleet);
      assert.equal(new Set(endpoints).size, endpoints.length, `duplicate endpoints: ${endpoints.join(" ")}`);
      for (const w of topology.workloads) {
        assert.deepEqual(
          endpoints.filter((e) => e.startsWith(`${nodeIP[w.name]}:`)),
          w.replicaNames.map((_, i) => `${nodeIP[w.name]}:${w.nodePorts.sidecarGrpc + i}`),
        );
      }
      const workloadIPs = new Set(topology.workloads.map((w) => nodeIP[w.name]));
      for (const e of endpoints.filter((x) => !x.includes(".svc.cluster.local"))) {
        assert.ok(workloadIPs.has(e.split(":")[0]), `${e}: a second address of a workload cluster`);
      }
    },
    guide(_t, fleet) {
      // The guide lists both nodes of each cluster: the control plane's and the worker's address.
      setEndpoints(fleet, (eps) => [
        ...eps,
        ...eps.filter((e) => e.startsWith("172.18.")).map((e) => e.replace(/^172\.18\.0\./, "172.18.1.")),
      ]);
    },
  },
  {
    n: 7,
    title: "HA Prometheus (2+ replicas) with a Service per replica, so query sees and deduplicates each",
    check(topology, fleet) {
      for (const w of topology.workloads) {
        const rc = workloadCluster(fleet, w.name);
        const spec = values(rc).prometheus.prometheusSpec;
        assert.ok(spec.replicas >= 2, `${w.name}: ${spec.replicas} replica`);
        assert.equal(spec.replicas, w.prometheus.replicas);
        assert.equal(spec.replicaExternalLabelName, "prometheus_replica");
        const perReplica = rc.manifests.filter(
          (o) => o.kind === "Service" && /^thanos-sidecar-\d+$/.test(o.metadata.name),
        );
        assert.deepEqual(
          perReplica.map(
            (s) =>
              (s.spec as { selector: Record<string, string> }).selector["statefulset.kubernetes.io/pod-name"],
          ),
          w.replicaNames.slice(0, spec.replicas),
        );
        assert.equal(perReplica.length, spec.replicas);
      }
      assert.ok(
        argsOf(observer(fleet), "Deployment", "thanos-query").includes(
          "--query.replica-label=prometheus_replica",
        ),
      );
      const sidecars = queryEndpoints(fleet).filter((e) => !e.includes(".svc.cluster.local"));
      assert.equal(
        sidecars.length,
        topology.workloads.reduce((n, w) => n + w.prometheus.replicas, 0),
      );
    },
    guide(_t, fleet) {
      for (const rc of cluster(fleet, "workload")) values(rc).prometheus.prometheusSpec.replicas = 1;
    },
  },
  {
    n: 8,
    title: "the store gateway is registered exactly once",
    check(topology, fleet) {
      const endpoints = queryEndpoints(fleet);
      assert.deepEqual(
        endpoints.filter((e) => e.includes("thanos-store")),
        ["thanos-store.monitoring.svc.cluster.local:10901"],
      );
      for (const e of endpoints)
        assert.doesNotMatch(e, /^dns(srv)?\+/, `DNS discovery next to static endpoints: ${e}`);
      const replicas = topology.workloads.reduce((n, w) => n + w.prometheus.replicas, 0);
      assert.equal(endpoints.length, replicas + 1 + topology.observer.rulerReplicas);
    },
    guide(_t, fleet) {
      setEndpoints(fleet, (eps) => [...eps, "dnssrv+_grpc._tcp.thanos-store.monitoring.svc.cluster.local"]);
    },
  },
  {
    n: 9,
    title: "no --store flag anywhere (removed in Thanos v0.38)",
    check(_t, fleet) {
      const everything = [...strings(fleet.clusters), ...fleet.plan.flatMap((s) => s.commands)];
      for (const s of everything) assert.doesNotMatch(s, /(^|\s)--store(=|\s|$)/, s);
      const query = argsOf(observer(fleet), "Deployment", "thanos-query");
      assert.ok(
        query.some((a) => a.startsWith("--endpoint")),
        `query has no --endpoint flag: ${query.join(" ")}`,
      );
    },
    guide(_t, fleet) {
      const [query] = containers(find(observer(fleet), "Deployment", "thanos-query"));
      assert.ok(query?.args);
      query.args = query.args.map((a) => (a.startsWith("--endpoint") ? "--store=172.18.0.3:31000" : a));
    },
  },
  {
    n: 10,
    title: "Grafana's Thanos datasource is mgmt's real query-frontend NodePort, not :9091",
    check(topology, fleet) {
      const mgmt = observer(fleet);
      const ports = (find(mgmt, "Service", "thanos-query-frontend").spec as { ports: { nodePort: number }[] })
        .ports;
      assert.equal(ports[0]?.nodePort, topology.observer.nodePorts.queryFrontend);
      for (const rc of cluster(fleet, "workload")) {
        const ds = values(rc).grafana.additionalDataSources.find((d) => d.name === "Thanos");
        assert.ok(ds, `${rc.cluster}: no Thanos datasource`);
        const url = new URL(ds.url);
        const port = Number(url.port);
        assert.ok(port >= 30000 && port <= 32767, `${ds.url}: not a NodePort`);
        assert.equal(port, ports[0]?.nodePort);
        assert.equal(url.hostname, kindAddresses(topology).nodeIP[mgmt.cluster]);
      }
    },
    guide(topology, fleet) {
      for (const rc of cluster(fleet, "workload")) {
        const [ds] = values(rc).grafana.additionalDataSources;
        assert.ok(ds);
        ds.url = `http://${kindAddresses(topology).nodeIP.mgmt}:9091`;
      }
    },
  },
  {
    n: 11,
    title: "the ruler sends to an Alertmanager that is really installed in mgmt",
    check(_t, fleet) {
      const mgmt = observer(fleet);
      // The guide's flag, or with tls.http (HTTPS, the client certificate) the file it names, from the ConfigMap.
      const flag = argsOf(mgmt, "StatefulSet", "thanos-ruler").find((a) =>
        a.startsWith("--alertmanagers.url="),
      );
      const file = (find(mgmt, "ConfigMap", "thanos-ruler-config").data as Record<string, string>)[
        "alertmanagers.yaml"
      ];
      const fromFile = file
        ? (parse(file) as { alertmanagers: { scheme: string; static_configs: string[] }[] }).alertmanagers[0]
        : undefined;
      const url =
        flag?.slice("--alertmanagers.url=".length) ??
        (fromFile ? `${fromFile.scheme}://${fromFile.static_configs[0]}` : undefined);
      assert.ok(url, "the ruler has no Alertmanager");
      const target = new URL(url);
      const svc = find(mgmt, "Service", target.hostname.split(".")[0] ?? "");
      const spec = svc.spec as { ports: { port: number }[]; selector: Record<string, string> };
      assert.ok(spec.ports.some((p) => p.port === Number(target.port)));
      const backing = mgmt.manifests.filter(
        (o) =>
          (o.kind === "StatefulSet" || o.kind === "Deployment") &&
          Object.entries(spec.selector).every(
            ([k, v]) =>
              (o.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
                .labels[k] === v,
          ),
      );
      assert.equal(backing.length, 1, "no workload behind the Alertmanager Service");
      assert.match(
        containers(backing[0] as KubeObject)[0]?.image ?? "",
        /^quay\.io\/prometheus\/alertmanager:v/,
      );
    },
    guide(_t, fleet) {
      const mgmt = observer(fleet);
      mgmt.manifests = mgmt.manifests.filter(
        (o) => !(o.kind === "StatefulSet" && o.metadata.name === "alertmanager"),
      );
    },
  },
  {
    n: 12,
    title:
      "ordered, idempotent steps: each namespace once, Secrets before the charts and pods that need them",
    check(topology, fleet, files) {
      const commands = fleet.plan.flatMap((s, i) => s.commands.map((c) => ({ step: i, c })));
      const stepOf = (re: RegExp) => {
        const hit = commands.filter((x) => re.test(x.c));
        assert.ok(hit.length > 0, `no step matches ${re}`);
        return hit.map((x) => x.step);
      };
      for (const rc of fleet.clusters) {
        const ns = stepOf(
          new RegExp(`--context ${rc.context} apply --server-side -f out/${rc.cluster}/namespace\\.yaml`),
        );
        assert.equal(ns.length, 1, `${rc.cluster}: namespace applied ${ns.length} times`);
        const secrets = stepOf(new RegExp(`out/${rc.cluster}/secrets\\.yaml`));
        const users = stepOf(new RegExp(`out/${rc.cluster}/(manifests|values-kube-prometheus-stack)\\.yaml`));
        assert.ok((ns[0] ?? 0) < Math.min(...secrets), `${rc.cluster}: Secrets before the namespace`);
        assert.ok(
          Math.max(...secrets) < Math.min(...users),
          `${rc.cluster}: something that needs a Secret comes before it`,
        );
      }
      for (const f of files.filter((x) => x.path.endsWith("/manifests.yaml"))) {
        assert.doesNotMatch(f.content, /^kind: Namespace$/m, `${f.path} creates the namespace a second time`);
      }
      for (const { c } of commands) {
        assert.doesNotMatch(c, /create namespace|--create-namespace/, c);
        if (/\bhelm (install|upgrade)\b/.test(c)) assert.match(c, /helm upgrade --install /);
        if (/kind create cluster/.test(c))
          assert.match(c, /kind get clusters \| grep -qx \S+ \|\| kind create cluster/);
        for (const k of c.matchAll(/kubectl --context \S+ (?:-n \S+ )?(\S+)/g)) {
          assert.ok(
            ["apply", "get", "wait", "rollout", "cluster-info"].includes(k[1] ?? ""),
            `not idempotent: ${c}`,
          );
        }
      }
      assert.equal(topology.workloads.length, cluster(fleet, "workload").length);
    },
    guide(_t, fleet) {
      // The guide applies biz2's Secret after the chart that needs it.
      const i = fleet.plan.findIndex((s) => s.title.startsWith("Apply the Secrets"));
      const [secrets] = fleet.plan.splice(i, 1);
      assert.ok(secrets);
      fleet.plan.push(secrets);
    },
  },
  {
    n: 13,
    title: "no credential outside a Secret; Thanos has its own key, allowed only on its bucket",
    check(topology, fleet, files) {
      for (const f of files.filter((x) => !x.path.endsWith("/secrets.yaml"))) {
        for (const secret of CREDENTIAL_STRINGS)
          assert.ok(!f.content.includes(secret), `${f.path} contains a credential`);
      }
      for (const rc of fleet.clusters) {
        const open = [...rc.manifests, ...(rc.helmValues ? [rc.helmValues] : [])];
        for (const secret of CREDENTIAL_STRINGS) {
          assert.ok(!JSON.stringify(open).includes(secret), `${rc.cluster}: a credential outside a Secret`);
        }
        for (const s of rc.secrets) assert.equal(s.kind, "Secret");
      }
      for (const rc of cluster(fleet, "workload")) {
        const v = values(rc);
        assert.deepEqual(v.prometheus.prometheusSpec.thanos.objectStorageConfig, {
          existingSecret: { name: "thanos-objstore", key: "objstore.yml" },
        });
        assert.equal(v.grafana.admin.existingSecret, "grafana-admin");
      }
      // The objstore Secrets carry Thanos's key, never MinIO's root.
      const objstores = fleet.clusters.flatMap((rc) =>
        rc.secrets.filter((s) => s.metadata.name === "thanos-objstore"),
      );
      assert.equal(objstores.length, fleet.clusters.filter((c) => c.role !== "storage").length);
      for (const s of objstores) {
        const text = JSON.stringify(s);
        assert.ok(
          text.includes(CREDENTIAL_STRINGS[2] ?? "?") && !text.includes(CREDENTIAL_STRINGS[0] ?? "?"),
          "objstore uses the root key",
        );
      }
      const policy = bucketPolicy(topology.fleet.bucket) as { Statement: { Resource: string[] }[] };
      assert.deepEqual(policy.Statement.flatMap((s) => s.Resource).sort(), [
        `arn:aws:s3:::${topology.fleet.bucket}`,
        `arn:aws:s3:::${topology.fleet.bucket}/*`,
      ]);
      // Generated at random, not fixed like admin/admin1234.
      const [a, b] = [generateCredentials(), generateCredentials()];
      assert.notEqual(a.minioRoot.password, b.minioRoot.password);
      assert.notEqual(a.thanos.secretKey, b.thanos.secretKey);
      assert.notEqual(a.thanos.accessKey, a.minioRoot.user);
      assert.ok(a.minioRoot.password.length >= 24 && a.thanos.secretKey.length >= 24);
    },
    guide(_t, fleet) {
      for (const rc of cluster(fleet, "workload")) {
        values(rc).prometheus.prometheusSpec.thanos.objectStorageConfig = {
          secret: {
            type: "S3",
            config: { access_key: CREDENTIAL_STRINGS[0], secret_key: CREDENTIAL_STRINGS[1] },
          },
        };
      }
    },
  },
  {
    n: 14,
    title: "every image and the chart are pinned; nothing floats on latest",
    check(topology, fleet) {
      for (const image of images(fleet)) {
        assert.match(image, /^[^@]+:[^:/@]+(@sha256:[a-f0-9]{64})?$/, `${image} has no tag`);
        assert.doesNotMatch(image, /:latest(@|$)/, image);
      }
      for (const rc of fleet.clusters) {
        for (const node of (rc.kindConfig?.nodes ?? []) as { image: string }[]) {
          assert.match(
            node.image,
            /^kindest\/node:v1\.\d+\.\d+@sha256:[a-f0-9]{64}$/,
            "kind node image not pinned by digest",
          );
        }
      }
      const helm = fleet.plan.flatMap((s) => s.commands).filter((c) => c.includes("helm upgrade --install"));
      assert.equal(helm.length, topology.workloads.length);
      const version = topology.fleet.versions.kubePrometheusStack.replaceAll(".", "\\.");
      for (const c of helm) assert.match(c, new RegExp(`--version ${version} `));
    },
    guide(_t, fleet) {
      for (const rc of fleet.clusters) {
        for (const node of (rc.kindConfig?.nodes ?? []) as { image: string }[])
          node.image = "kindest/node:v1.29.7";
      }
    },
  },
];

type ImageParts = { registry: string; repository: string; tag: string };

/** The kube-prometheus-stack values the checks read (and the guide versions change). */
interface Values {
  prometheusOperator: { thanosImage: ImageParts };
  prometheus: {
    prometheusSpec: {
      replicas: number;
      replicaExternalLabelName: string;
      version: string;
      image: ImageParts;
      thanos: { image: string; version: string; objectStorageConfig: unknown };
    };
  };
  alertmanager: { alertmanagerSpec: { image: ImageParts } };
  grafana: { admin: { existingSecret: string }; additionalDataSources: { name: string; url: string }[] };
}

function values(rc: RenderedCluster): Values {
  assert.ok(rc.helmValues, `${rc.cluster} has no Helm values`);
  return rc.helmValues as unknown as Values;
}

test("there is one test per defect of the guide, 1 to 14", () => {
  assert.deepEqual(
    DEFECTS.map((d) => d.n),
    Array.from({ length: 14 }, (_, i) => i + 1),
  );
});

// The guide runs sidecars only: its defects are checked on the fleets without receive (src/render/receive_test.ts
// checks the receive fleet's render).
for (const { name, topology } of configs().filter((c) => !usesReceive(c.topology.fleet))) {
  describe(`guide defects, ${name}`, () => {
    for (const d of DEFECTS) {
      test(`defect ${d.n}: ${d.title}`, () => {
        const fleet = render(topology);
        d.check(topology, fleet, fleetFiles(topology, fleet, "out"));
        // The same check on the guide's version of this part fails.
        // The guide changes only what is rendered; the spec it came from holds functions (each pod's store labels).
        const { spec, ...rendered } = fleet;
        const guide = { ...structuredClone(rendered), spec };
        d.guide(topology, guide);
        assert.throws(
          () => d.check(topology, guide, fleetFiles(topology, guide, "out")),
          assert.AssertionError,
        );
      });
    }
  });
}
