// The one Kubernetes API seam of the runtime, per kube context: server-side apply, reads, deletes and the pod proxy.

import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { Duplex } from "node:stream";
import {
  ApiException,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PortForward,
  type V1Node,
  type V1Service,
} from "@kubernetes/client-node";
import type { KubeObject } from "../../render/types.ts";

/** The field manager of every server-side apply, and the value of the managed-by label. */
export const FIELD_MANAGER = "thanos-fleet";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`;

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** How a delete treats the object's dependents (pods of a StatefulSet, ReplicaSets of a Deployment). */
export type Propagation = "Background" | "Foreground";

export interface ProxyTarget {
  resource: "pods" | "services";
  namespace: string;
  name: string;
  port: number;
}

export interface ProxyRequest {
  method: string;
  /** Path and query below the target, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the Kubernetes runtime asks of one cluster's API server. */
export interface KubeApi {
  readonly context: string;
  /** PATCH with application/apply-patch+yaml, fieldManager thanos-fleet, force: the object as stored afterwards. */
  serverSideApply(obj: KubeObject): Promise<KubeObject>;
  /** The object, or undefined when it does not exist. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(
    apiVersion: string,
    kind: string,
    opts?: { namespace?: string; labelSelector?: string },
  ): Promise<KubeObject[]>;
  /**
   * Deletes the object, its dependents in the background (by default) or in the foreground: then the object stays,
   * marked as being deleted, until the garbage collector has deleted everything it owns. False when it did not exist.
   */
  delete(ref: ObjectRef, opts?: { propagation?: Propagation }): Promise<boolean>;
  /**
   * A JSON merge patch (RFC 7386: a null removes a key), fieldManager thanos-fleet: the object as stored afterwards.
   * An object that does not exist is an error.
   */
  mergePatch(
    ref: ObjectRef,
    patch: Record<string, unknown>,
    opts?: { subresource?: "status" },
  ): Promise<KubeObject>;
  listNodes(): Promise<V1Node[]>;
  getService(namespace: string, name: string): Promise<V1Service | undefined>;
  /** The tail of a container's log (of its previous run when told); undefined when there is none. */
  podLog(
    namespace: string,
    pod: string,
    container: string,
    opts: { previous: boolean; tailLines: number },
  ): Promise<string | undefined>;
  /** An HTTP request through the API server's proxy to a pod or Service port. */
  proxy(target: ProxyTarget, req: ProxyRequest): Promise<ProxyResponse>;
  /**
   * Streams one TCP connection to a pod's port through the API server (`kubectl port-forward`): what the pod says is
   * written to the socket, what the socket says goes to the pod. For a port that serves TLS end to end, such as one
   * that asks for the fleet's client certificate (the API server's proxy has none to present).
   */
  portForward(namespace: string, pod: string, port: number, socket: Duplex): Promise<void>;
}

export function refOf(obj: KubeObject): ObjectRef {
  const { apiVersion, kind } = obj;
  const { name, namespace } = obj.metadata;
  return namespace ? { apiVersion, kind, name, namespace } : { apiVersion, kind, name };
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/** The API server's own message for a failed request, e.g. "namespaces \"x\" not found". */
function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    let body = error.body as { message?: string } | string | undefined;
    // Some calls hand the Status object over parsed, others as its JSON text.
    if (typeof body === "string") {
      try {
        body = JSON.parse(body) as { message?: string };
      } catch {}
    }
    const message = typeof body === "object" && body?.message ? body.message : String(body ?? "");
    return `HTTP ${error.code}: ${message}`.trim();
  }
  return error instanceof Error ? error.message : String(error);
}

export function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** An API call that failed, naming the context, the verb and the object. */
export class KubeApiError extends Error {
  readonly status?: number;
  constructor(context: string, what: string, cause: unknown) {
    super(`${what} in context ${context}: ${apiMessage(cause)}`, { cause });
    this.name = "KubeApiError";
    this.status = httpStatus(cause);
  }
}

/** KubernetesObjectApi that sends the object as it is: the typed serializer would drop fields it does not know. */
class ApplyApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ApplyApi {
    const api = kc.makeApiClient(ApplyApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  async apply(obj: KubeObject): Promise<KubeObject> {
    const path = await this.specUriPath(obj, "patch");
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    ctx.setQueryParam("fieldManager", FIELD_MANAGER);
    ctx.setQueryParam("force", "true");
    ctx.setBody(JSON.stringify(obj));
    return (await this.requestPromise(ctx)) as KubeObject;
  }

  async mergePatch(
    header: KubeObject,
    patch: Record<string, unknown>,
    subresource?: "status",
  ): Promise<KubeObject> {
    const path = `${await this.specUriPath(header, "patch")}${subresource ? `/${subresource}` : ""}`;
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setHeaderParam("Content-Type", PatchStrategy.MergePatch);
    ctx.setQueryParam("fieldManager", FIELD_MANAGER);
    ctx.setBody(JSON.stringify(patch));
    return (await this.requestPromise(ctx)) as KubeObject;
  }
}

export interface KubeApiOptions {
  /** A kubeconfig file; default: $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  context: string;
  /** Per-request timeout of the pod proxy, in ms. */
  proxyTimeoutMs?: number;
}

/** Loads a kubeconfig and selects a context, with a message that lists the contexts there when it is missing. */
export function loadKubeConfig(opts: { kubeconfig?: string; context: string }): KubeConfig {
  const kc = new KubeConfig();
  const where = opts.kubeconfig ?? (process.env.KUBECONFIG || "~/.kube/config");
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new Error(`kubeconfig ${where} cannot be read; check the file or set KUBECONFIG`, { cause });
  }
  const names = kc.getContexts().map((c) => c.name);
  if (!names.includes(opts.context)) {
    const known = names.length > 0 ? names.join(", ") : "none";
    throw new Error(
      `kube context '${opts.context}' is not in kubeconfig ${where} (contexts there: ${known}); ` +
        "fix the context name in fleet.yaml or point KUBECONFIG at the right file",
    );
  }
  kc.setCurrentContext(opts.context);
  return kc;
}

/** The real KubeApi, through @kubernetes/client-node, for one context of a kubeconfig. */
export function createKubeApi(opts: KubeApiOptions): KubeApi {
  const kc = loadKubeConfig(opts);
  const objects = ApplyApi.forConfig(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const context = opts.context;
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (cause) {
      throw new KubeApiError(context, what, cause);
    }
  };
  const absentOn404 = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (cause) {
      if (httpStatus(cause) === 404) return undefined;
      throw new KubeApiError(context, what, cause);
    }
  };
  const header = (ref: ObjectRef) => ({
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  });

  return {
    context,
    serverSideApply: (obj) => call(`apply ${describeRef(refOf(obj))}`, () => objects.apply(obj)),
    get: (ref) =>
      absentOn404(`get ${describeRef(ref)}`, async () => (await objects.read(header(ref))) as KubeObject),
    list: (apiVersion, kind, o = {}) =>
      call(`list ${kind}${o.namespace ? ` in ${o.namespace}` : ""}`, async () => {
        const list = await objects.list(
          apiVersion,
          kind,
          o.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          o.labelSelector,
        );
        return list.items.map((item) => ({ ...item, apiVersion, kind }) as KubeObject);
      }),
    delete: async (ref, o = {}) =>
      (await absentOn404(`delete ${describeRef(ref)}`, async () => {
        const propagation = o.propagation ?? "Background";
        await objects.delete(header(ref), undefined, undefined, undefined, undefined, propagation);
        return true;
      })) ?? false,
    mergePatch: (ref, patch, o = {}) =>
      call(`patch ${describeRef(ref)}${o.subresource ? ` ${o.subresource}` : ""}`, () =>
        objects.mergePatch(header(ref), patch, o.subresource),
      ),
    listNodes: () => call("list Nodes", async () => (await core.listNode()).items),
    getService: (namespace, name) =>
      absentOn404(`get Service ${namespace}/${name}`, () => core.readNamespacedService({ name, namespace })),
    podLog: async (namespace, name, container, o) => {
      try {
        return await core.readNamespacedPodLog({ namespace, name, container, ...o });
      } catch (cause) {
        // 400: no previous run, or the container has not started; 404: the pod is gone.
        if ([400, 404].includes(httpStatus(cause) ?? 0)) return undefined;
        throw new KubeApiError(context, `log of pod ${namespace}/${name} container ${container}`, cause);
      }
    },
    proxy: (target, req) => proxyRequest(kc, target, req, opts.proxyTimeoutMs ?? 10_000),
    portForward: async (namespace, pod, port, socket) => {
      try {
        const opened = await new PortForward(kc, true).portForward(
          namespace,
          pod,
          [port],
          socket,
          null,
          socket,
        );
        const ws = typeof opened === "function" ? opened() : opened;
        // The WebSocket to the API server outlives the local socket unless closed with it (it would keep the
        // process alive after its command is done).
        if (socket.destroyed) ws?.terminate();
        else socket.once("close", () => ws?.terminate());
      } catch (cause) {
        throw new KubeApiError(context, `port-forward to pod ${namespace}/${pod}:${port}`, cause);
      }
    },
  };
}

/** Proxies one HTTP request through the API server to a pod or Service, with the kubeconfig's credentials. */
async function proxyRequest(kc: KubeConfig, target: ProxyTarget, req: ProxyRequest, timeoutMs: number) {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kube context ${kc.getCurrentContext()} names no cluster`);
  const base = new URL(cluster.server);
  const prefix = base.pathname.replace(/\/$/, "");
  const path =
    `${prefix}/api/v1/namespaces/${encodeURIComponent(target.namespace)}/${target.resource}/` +
    `${encodeURIComponent(target.name)}:${target.port}/proxy${req.path.startsWith("/") ? "" : "/"}${req.path}`;
  const options: RequestOptions = {
    protocol: base.protocol,
    hostname: base.hostname.replace(/^\[|\]$/g, ""),
    port: base.port || undefined,
    method: req.method,
    path,
    headers: { ...req.headers },
    timeout: timeoutMs,
  };
  await kc.applyToHTTPSOptions(options);
  const send = base.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise<ProxyResponse>((resolve, reject) => {
    const r = send(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
        resolve({ status: res.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    r.on("timeout", () => r.destroy(new Error(`no answer from ${cluster.server} within ${timeoutMs} ms`)));
    r.on("error", (cause) =>
      reject(
        new Error(`proxy to ${target.resource}/${target.namespace}/${target.name}:${target.port} failed`, {
          cause,
        }),
      ),
    );
    r.end(req.body);
  });
}
