// Turns component specs into Kubernetes objects: a PodSpec becomes a Deployment or StatefulSet, a ServiceSpec a Service.
import { createHash } from "node:crypto";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { NAMESPACE, POD_IP, type SpecContext } from "../components/context.ts";
import { OBJSTORE_FILE } from "../components/objstore.ts";
import { PROMETHEUS_WORKLOAD } from "../components/prometheus.ts";
import { type Container, POD_NAME, type PodSpec, type ServiceSpec } from "../components/types.ts";
import { renewedInPlace } from "../components/web.ts";
import { S3_CA_MOUNT, S3_CA_SECRET } from "./addresses.ts";
import { SERVER_TLS_KEYS, serverTlsSecretName } from "./server-certs.ts";
import type { KubeObject } from "./types.ts";

export const OBJSTORE_SECRET = "thanos-objstore";
export const PART_OF = {
  "app.kubernetes.io/part-of": "thanos-fleet",
  "app.kubernetes.io/managed-by": "thanos-fleet",
};
const NAME_LABEL = "app.kubernetes.io/name";
/** The component a workload runs (its first container's), e.g. `query`, `object-store`. */
export const COMPONENT_LABEL = "app.kubernetes.io/component";
const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
const CONFIG_HASH = "thanos-fleet.io/config-hash";

/** The uid of an image that names none of its own (Container.runAsUser): nobody. */
const NOBODY = 65534;

export function metadata(name: string, labels: Record<string, string> = {}): KubeObject["metadata"] {
  return { name, namespace: NAMESPACE, labels: { ...labels, ...PART_OF } };
}

export function namespace(): KubeObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { ...PART_OF } } };
}

export function secret(name: string, data: Record<string, string>): KubeObject {
  const s: ISecret & KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata(name),
    type: "Opaque",
    stringData: data,
  };
  return s;
}

/** The Secret a pod's credential env vars come from. */
export function credentialSecretName(pod: PodSpec): string {
  return `${pod.name}-credentials`;
}

function configMapName(pod: PodSpec, c: Container): string {
  return pod.containers.length === 1 ? `${pod.name}-config` : `${pod.name}-${c.name}-config`;
}

function secretFilesName(pod: PodSpec, c: Container): string {
  return pod.containers.length === 1 ? `${pod.name}-files` : `${pod.name}-${c.name}-files`;
}

export interface RealisedPod {
  configMaps: KubeObject[];
  secrets: KubeObject[];
  workload: KubeObject;
}

/** Something Kubernetes cannot expand in a file: placeholders work in args only. */
function checkFile(pod: PodSpec, file: { name: string; content: string }): void {
  for (const p of [POD_NAME, POD_IP]) {
    if (file.content.includes(p)) {
      throw new Error(
        `${pod.cluster}/${pod.name}: config file ${file.name} uses ${p}, which Kubernetes expands only in args and env`,
      );
    }
  }
}

/**
 * An HTTP GET where the spec gives a path, else a TCP connect. A port that asks for the fleet's client certificate
 * (`tls`) gets a TCP connect too: the kubelet has no such certificate, its GET would fail in the TLS handshake.
 */
export function probeAction(p: Container["readiness"]): IProbe {
  if (p.path === undefined || p.tls) return { tcpSocket: { port: p.port } };
  return { httpGet: { path: p.path, port: p.port, ...(p.https ? { scheme: "HTTPS" as const } : {}) } };
}

function probes(c: Container): { readinessProbe: IProbe; livenessProbe: IProbe } {
  return {
    readinessProbe: {
      ...probeAction(c.readiness),
      periodSeconds: 5,
      failureThreshold: 3,
    },
    livenessProbe: {
      ...probeAction(c.liveness),
      initialDelaySeconds: 10,
      periodSeconds: 10,
      failureThreshold: 6,
    },
  };
}

function env(pod: PodSpec, c: Container): IEnvVar[] {
  const out: IEnvVar[] = [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }];
  if (c.args.some((a) => a.includes(POD_IP))) {
    out.push({ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
  }
  // A non-root user with a read-only root: $HOME must be writable for tools that keep state there (MinIO's certs dir).
  if (c.runAsUser !== undefined) out.push({ name: "HOME", value: "/tmp" });
  for (const [name, value] of Object.entries(c.env ?? {})) out.push({ name, value });
  for (const name of Object.keys(c.secretEnv ?? {})) {
    out.push({ name, valueFrom: { secretKeyRef: { name: credentialSecretName(pod), key: name } } });
  }
  return out;
}

/**
 * Realises a PodSpec: args exactly as the spec gives them, config files from a ConfigMap (or a Secret for
 * credentials) mounted at the spec's config dir, data on an emptyDir (a PersistentVolumeClaim where it is persistent).
 */
export function realisePod(
  pod: PodSpec,
  ctx: SpecContext,
  objstoreContent: string,
  /** Whether cert-manager writes the server's own Secret (`tls.issuer`): it is mounted, not rendered. */
  issued = false,
): RealisedPod {
  const configMaps: KubeObject[] = [];
  const secrets: KubeObject[] = [];
  const volumes: IVolume[] = [{ name: "tmp", emptyDir: {} }];
  const claims: string[] = [];
  const hash = createHash("sha256");
  const serverTls = new Map<string, string>();

  const containers: IContainer[] = pod.containers.map((c) => {
    // The client and storage certificates are renewed on their own keys and written in place (`certs rotate`,
    // `up`): one its reader re-reads is no part of the hash (renewedInPlace); where it is, a renewal rolls the pods.
    const inPlace = renewedInPlace(c.binary, ctx);
    const hashed = (f: { content: string }) => !inPlace.includes(f.content);
    const mounts: IVolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
    const plain = c.files.filter((f) => !f.secret && !f.ownCert);
    const secretFiles = c.files.filter((f) => f.secret && !f.ownCert);
    const ownCert = c.files.filter((f) => f.ownCert);
    for (const f of c.files) checkFile(pod, f);
    if (c.files.length > 0) {
      const sources: NonNullable<NonNullable<IVolume["projected"]>["sources"]> = [];
      if (plain.length > 0) {
        const name = configMapName(pod, c);
        const cm: IConfigMap & KubeObject = {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: metadata(name, { [NAME_LABEL]: pod.name }),
          data: Object.fromEntries(plain.map((f) => [f.name, f.content])),
        };
        configMaps.push(cm);
        for (const f of plain.filter(hashed)) hash.update(`${f.name}\0${f.content}\0`);
        sources.push({ configMap: { name, items: plain.map((f) => ({ key: f.name, path: f.name })) } });
      }
      const shared = secretFiles.filter((f) => f.name === OBJSTORE_FILE);
      for (const f of shared) {
        if (f.content !== objstoreContent) {
          throw new Error(
            `${pod.cluster}/${pod.name}: ${OBJSTORE_FILE} differs from the cluster's ${OBJSTORE_SECRET} Secret`,
          );
        }
      }
      // Thanos reads objstore.yml only at start: a new MinIO address (after a Docker restart) must roll the pods.
      for (const f of secretFiles.filter(hashed)) hash.update(`${f.name}\0${f.content}\0`);
      if (shared.length > 0) {
        sources.push({
          secret: { name: OBJSTORE_SECRET, items: [{ key: OBJSTORE_FILE, path: OBJSTORE_FILE }] },
        });
      }
      const own = secretFiles.filter((f) => f.name !== OBJSTORE_FILE);
      if (own.length > 0) {
        const name = secretFilesName(pod, c);
        secrets.push(secret(name, Object.fromEntries(own.map((f) => [f.name, f.content]))));
        sources.push({ secret: { name, items: own.map((f) => ({ key: f.name, path: f.name })) } });
      }
      if (ownCert.length > 0) {
        // The server's own certificate, in its workload's Secret of its own: renewed in place (the kubelet updates
        // a projected volume's files), no part of the hash, so a renewal restarts no pod.
        // With cert-manager, its Secret's keys (tls.crt, tls.key) land under the names the container reads.
        const name = serverTlsSecretName(pod.name);
        const key = (f: (typeof ownCert)[number]) =>
          issued && f.ownCert ? SERVER_TLS_KEYS[f.ownCert] : f.name;
        if (!issued) for (const f of ownCert) serverTls.set(f.name, f.content);
        sources.push({ secret: { name, items: ownCert.map((f) => ({ key: key(f), path: f.name })) } });
      }
      const volume = `${c.name}-config`;
      // A projected volume, not subPath mounts: Kubernetes updates its files in place, and query re-reads its endpoints.
      volumes.push({ name: volume, projected: { sources } });
      mounts.push({ name: volume, mountPath: ctx.configDir(pod.name, c.name), readOnly: true });
    }
    if (ctx.s3Tls && ctx.objstoreCaFile && c.files.some((f) => f.name === OBJSTORE_FILE)) {
      // objstore.yml names the fleet CA at one path in every container (the objstore Secret is shared).
      const volume = `${c.name}-s3-ca`;
      volumes.push({ name: volume, secret: { secretName: S3_CA_SECRET } });
      mounts.push({ name: volume, mountPath: S3_CA_MOUNT, readOnly: true });
    }
    if (c.dataDir) {
      const volume = `${c.name}-data`;
      if (c.persistent) claims.push(volume);
      else volumes.push({ name: volume, emptyDir: {} });
      mounts.push({ name: volume, mountPath: c.dataDir });
    }
    return {
      name: c.name,
      image: c.image,
      imagePullPolicy: "IfNotPresent",
      args: c.args,
      env: env(pod, c),
      ports: c.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: "TCP" })),
      ...probes(c),
      resources: c.resources,
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      },
      volumeMounts: mounts,
    };
  });

  const credentials: Record<string, string> = Object.assign(
    {},
    ...pod.containers.map((c) => c.secretEnv ?? {}),
  );
  if (Object.keys(credentials).length > 0) secrets.push(secret(credentialSecretName(pod), credentials));
  if (serverTls.size > 0) secrets.push(secret(serverTlsSecretName(pod.name), Object.fromEntries(serverTls)));

  const uid = pod.containers[0]?.runAsUser ?? NOBODY;
  const labels = {
    [NAME_LABEL]: pod.name,
    [COMPONENT_LABEL]: pod.containers[0]?.component ?? pod.name,
  };
  const podSpec: IPodSpec = {
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: uid,
      fsGroup: uid,
      seccompProfile: { type: "RuntimeDefault" },
    },
    automountServiceAccountToken: false,
    containers,
    volumes,
  };
  const template = {
    metadata: {
      labels: { ...labels, ...PART_OF },
      ...(pod.containers.some((c) => c.files.length > 0)
        ? { annotations: { [CONFIG_HASH]: hash.digest("hex").slice(0, 16) } }
        : {}),
    },
    spec: podSpec,
  };
  const selector = { matchLabels: { [NAME_LABEL]: pod.name } };
  let workload: KubeObject;
  if (pod.stateful) {
    const sts: IStatefulSet & KubeObject = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: metadata(pod.name, labels),
      spec: {
        serviceName: pod.name,
        replicas: pod.replicas,
        ...(pod.minReadySeconds ? { minReadySeconds: pod.minReadySeconds } : {}),
        podManagementPolicy: "Parallel",
        selector,
        template,
        ...(claims.length > 0
          ? {
              volumeClaimTemplates: claims.map((name) => ({
                // Labelled like the rest, so that `down` on an existing cluster finds the claim it led to.
                metadata: { name, labels: { ...labels, ...PART_OF } },
                spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
              })),
            }
          : {}),
      },
    };
    workload = sts;
  } else {
    const deploy: IDeployment & KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(pod.name, labels),
      spec: { replicas: pod.replicas, selector, template },
    };
    workload = deploy;
  }
  return { configMaps, secrets, workload };
}

/** The label selector of a ServiceSpec: our own pods by name, the chart's Prometheus pods by the operator's labels. */
function selectorOf(spec: ServiceSpec): Record<string, string> {
  const base =
    spec.selector.workload === PROMETHEUS_WORKLOAD
      ? { [NAME_LABEL]: "prometheus" }
      : { [NAME_LABEL]: spec.selector.workload };
  return spec.selector.pod ? { ...base, [POD_NAME_LABEL]: spec.selector.pod } : base;
}

/**
 * Realises a ServiceSpec. A Service whose ports are all exposed becomes a NodePort (or LoadBalancer) Service; one
 * that mixes exposed and in-cluster ports becomes a ClusterIP Service plus `<name>-exposed`, so that Kubernetes never
 * opens a random NodePort for a port nobody asked to expose.
 */
export function realiseService(spec: ServiceSpec, serviceType: "NodePort" | "LoadBalancer"): KubeObject[] {
  const exposed = spec.ports.filter((p) => p.nodePort !== undefined);
  const port = (p: ServiceSpec["ports"][number], withNodePort: boolean) => ({
    name: p.name,
    port: p.port,
    targetPort: p.targetPort,
    protocol: "TCP" as const,
    ...(withNodePort && p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
  });
  const service = (
    name: string,
    type: "ClusterIP" | "NodePort" | "LoadBalancer",
    ports: ReturnType<typeof port>[],
    headless = false,
  ): KubeObject => {
    const s: IService & KubeObject = {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(name, { [NAME_LABEL]: spec.selector.workload }),
      spec: {
        type,
        ...(headless ? { clusterIP: "None", publishNotReadyAddresses: true } : {}),
        selector: selectorOf(spec),
        ports,
      },
    };
    return s;
  };
  if (spec.headless) {
    if (exposed.length > 0)
      throw new Error(`${spec.cluster}/${spec.name}: a headless Service cannot expose NodePorts`);
    return [
      service(
        spec.name,
        "ClusterIP",
        spec.ports.map((p) => port(p, false)),
        true,
      ),
    ];
  }
  if (exposed.length === 0)
    return [
      service(
        spec.name,
        "ClusterIP",
        spec.ports.map((p) => port(p, false)),
      ),
    ];
  if (exposed.length === spec.ports.length)
    return [
      service(
        spec.name,
        serviceType,
        spec.ports.map((p) => port(p, true)),
      ),
    ];
  return [
    service(
      spec.name,
      "ClusterIP",
      spec.ports.map((p) => port(p, false)),
    ),
    service(
      `${spec.name}-exposed`,
      serviceType,
      exposed.map((p) => port(p, true)),
    ),
  ];
}
