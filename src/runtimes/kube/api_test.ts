import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Duplex, PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { nodeObject } from "../../../testing/kube/fake-world.ts";
import { createKubeApi, type KubeApi, KubeApiError, loadKubeConfig } from "./api.ts";

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  authorization?: string;
  body: string;
}

/** An HTTP server answering the few API paths the runtime uses, the way kube-apiserver answers them. */
function fakeApiServer(seen: Seen[]): Server {
  const resources = {
    "/api/v1": [
      { name: "namespaces", kind: "Namespace", namespaced: false, verbs: [] },
      { name: "services", kind: "Service", namespaced: true, verbs: [] },
      { name: "nodes", kind: "Node", namespaced: false, verbs: [] },
      { name: "configmaps", kind: "ConfigMap", namespaced: true, verbs: [] },
    ],
    "/apis/apps/v1": [{ name: "deployments", kind: "Deployment", namespaced: true, verbs: [] }],
  };
  const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  return createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({
      method: req.method ?? "",
      url: `${url.pathname}${url.search}`,
      contentType: req.headers["content-type"],
      authorization: req.headers.authorization,
      body,
    });
    const path = url.pathname;
    if (req.method === "GET" && path in resources) {
      const groupVersion = path === "/api/v1" ? "v1" : "apps/v1";
      return json(res, 200, {
        kind: "APIResourceList",
        groupVersion,
        resources: resources[path as keyof typeof resources],
      });
    }
    if (req.method === "PATCH") {
      const obj = JSON.parse(body);
      return json(res, 200, { ...obj, metadata: { ...obj.metadata, resourceVersion: "7", uid: "u1" } });
    }
    if (req.method === "GET" && path === "/api/v1/nodes") {
      return json(res, 200, {
        kind: "NodeList",
        apiVersion: "v1",
        metadata: {},
        items: [nodeObject({ name: "mgmt-control-plane", internalIP: "172.18.0.2", controlPlane: true })],
      });
    }
    if (req.method === "GET" && path === "/api/v1/namespaces/monitoring/services/missing") {
      return json(res, 404, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: 'services "missing" not found',
        reason: "NotFound",
        code: 404,
      });
    }
    if (req.method === "GET" && path === "/api/v1/namespaces/monitoring/configmaps") {
      return json(res, 200, {
        kind: "ConfigMapList",
        apiVersion: "v1",
        metadata: {},
        items: [{ metadata: { name: "a", namespace: "monitoring" }, data: {} }],
      });
    }
    if (req.method === "DELETE") {
      if (path.endsWith("/gone")) {
        return json(res, 404, {
          kind: "Status",
          apiVersion: "v1",
          message: "not found",
          reason: "NotFound",
          code: 404,
        });
      }
      return json(res, 200, { kind: "Status", apiVersion: "v1", status: "Success" });
    }
    if (path.includes("/proxy")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(`{"status":"success","path":"${path}","query":"${url.search}"}`);
    }
    return json(res, 500, { kind: "Status", message: `unexpected ${req.method} ${path}`, code: 500 });
  });
}

describe("createKubeApi against an HTTP API server", () => {
  const seen: Seen[] = [];
  const server = fakeApiServer(seen);
  let dir = "";
  let kubeconfig = "";
  let api: KubeApi;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    dir = await mkdtemp(join(tmpdir(), "thanos-fleet-api-"));
    kubeconfig = join(dir, "config");
    await writeFile(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "fake", cluster: { server: `http://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "me", user: { token: "t0k3n" } }],
        contexts: [
          { name: "kind-mgmt", context: { cluster: "fake", user: "me" } },
          { name: "other", context: { cluster: "fake", user: "me" } },
        ],
        "current-context": "other",
      }),
    );
    api = createKubeApi({ kubeconfig, context: "kind-mgmt" });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("server-side apply: PATCH apply-patch+yaml, fieldManager thanos-fleet, force, the object sent as it is", async () => {
    seen.length = 0;
    const obj = {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "thanos-query",
        namespace: "monitoring",
        labels: { "app.kubernetes.io/managed-by": "thanos-fleet" },
      },
      spec: {
        type: "NodePort",
        ports: [{ name: "http", port: 10902, nodePort: 30904 }],
        someFutureField: true,
      },
    };
    const stored = await api.serverSideApply(obj);
    const patch = seen.find((s) => s.method === "PATCH");
    assert.ok(patch);
    assert.equal(
      patch.url,
      "/api/v1/namespaces/monitoring/services/thanos-query?fieldManager=thanos-fleet&force=true",
    );
    assert.equal(patch.contentType, "application/apply-patch+yaml");
    assert.equal(patch.authorization, "Bearer t0k3n");
    assert.deepEqual(
      JSON.parse(patch.body),
      obj,
      "no field dropped, not even one the client's models do not know",
    );
    assert.equal(stored.metadata.resourceVersion, "7");
  });

  it("merge patch: PATCH merge-patch+json, fieldManager thanos-fleet, only the patch sent", async () => {
    seen.length = 0;
    await api.mergePatch(
      { apiVersion: "apps/v1", kind: "Deployment", namespace: "monitoring", name: "thanos-query" },
      { spec: { replicas: 1 } },
    );
    const patch = seen.find((s) => s.method === "PATCH");
    assert.ok(patch);
    assert.equal(
      patch.url,
      "/apis/apps/v1/namespaces/monitoring/deployments/thanos-query?fieldManager=thanos-fleet",
    );
    assert.equal(patch.contentType, "application/merge-patch+json");
    assert.equal(patch.authorization, "Bearer t0k3n");
    assert.deepEqual(JSON.parse(patch.body), { spec: { replicas: 1 } });
  });

  it("reads Nodes as the API returns them, and Services; a missing one is undefined", async () => {
    const nodes = await api.listNodes();
    assert.deepEqual(JSON.parse(JSON.stringify(nodes[0]?.status?.addresses)), [
      { type: "InternalIP", address: "172.18.0.2" },
      { type: "Hostname", address: "mgmt-control-plane" },
    ]);
    assert.equal(await api.getService("monitoring", "missing"), undefined);
  });

  it("lists by label and deletes in the background; deleting what is gone is not an error", async () => {
    seen.length = 0;
    const items = await api.list("v1", "ConfigMap", {
      namespace: "monitoring",
      labelSelector: "app.kubernetes.io/managed-by=thanos-fleet",
    });
    assert.deepEqual(
      items.map((i) => [i.apiVersion, i.kind, i.metadata.name]),
      [["v1", "ConfigMap", "a"]],
    );
    assert.ok(
      seen.some(
        (s) =>
          s.url ===
          "/api/v1/namespaces/monitoring/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dthanos-fleet",
      ),
      seen.map((s) => s.url).join("\n"),
    );
    assert.equal(
      await api.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: "monitoring", name: "a" }),
      true,
    );
    assert.equal(
      await api.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: "monitoring", name: "gone" }),
      false,
    );
    const del = seen.find((s) => s.method === "DELETE");
    assert.match(
      del?.url ?? "",
      /^\/api\/v1\/namespaces\/monitoring\/configmaps\/a\?propagationPolicy=Background$/,
    );
    seen.length = 0;
    await api.delete(
      { apiVersion: "v1", kind: "ConfigMap", namespace: "monitoring", name: "a" },
      { propagation: "Foreground" },
    );
    assert.match(
      seen.find((s) => s.method === "DELETE")?.url ?? "",
      /^\/api\/v1\/namespaces\/monitoring\/configmaps\/a\?propagationPolicy=Foreground$/,
    );
  });

  it("proxies a request to a pod port, with the kubeconfig's credentials", async () => {
    seen.length = 0;
    const answer = await api.proxy(
      { resource: "pods", namespace: "monitoring", name: "thanos-query-0", port: 10902 },
      { method: "GET", path: "/api/v1/stores?type=sidecar" },
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body.toString()), {
      status: "success",
      path: "/api/v1/namespaces/monitoring/pods/thanos-query-0:10902/proxy/api/v1/stores",
      query: "?type=sidecar",
    });
    assert.equal(seen[0]?.authorization, "Bearer t0k3n");
  });

  it(
    "a port-forward's WebSocket to the API server closes with the local connection it serves",
    { timeout: 20_000 },
    async () => {
      // The API server's side: the WebSocket handshake of `pods/<pod>/portforward`, then a held connection.
      const upgraded: { path: string; closed: Promise<void>; conn: Duplex }[] = [];
      const onUpgrade = (req: IncomingMessage, conn: Duplex) => {
        const accept = createHash("sha1")
          .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        const protocol = String(req.headers["sec-websocket-protocol"] ?? "")
          .split(",")[0]
          ?.trim();
        conn.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ""}\r\n`,
        );
        conn.on("error", () => {});
        // Read (and drop) what the client sends, so that its end arrives.
        conn.resume();
        const closed = new Promise<void>((resolve) => {
          conn.once("end", resolve);
          conn.once("close", resolve);
        });
        upgraded.push({ path: req.url ?? "", closed, conn });
      };
      server.on("upgrade", onUpgrade);
      try {
        const local = new PassThrough();
        await api.portForward("monitoring", "thanos-query-0", 10902, local);
        assert.equal(upgraded.length, 1);
        assert.match(
          upgraded[0]?.path ?? "",
          /^\/api\/v1\/namespaces\/monitoring\/pods\/thanos-query-0\/portforward\?ports=10902/,
        );
        // The local side goes (its client is done): the API server sees the WebSocket close; left open, it would keep
        // the process alive after its command.
        local.destroy();
        await upgraded[0]?.closed;
      } finally {
        server.off("upgrade", onUpgrade);
        // An upgraded connection is the test's, no longer the server's to close.
        for (const u of upgraded) u.conn.destroy();
      }
    },
  );

  it("an API error names the context, the verb and the object, with the server's message", async () => {
    await assert.rejects(
      api.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "monitoring", name: "x" }),
      (e: Error) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.status, 500);
        assert.match(
          e.message,
          /^get Deployment monitoring\/x in context kind-mgmt: HTTP 500: unexpected GET/,
        );
        return true;
      },
    );
  });

  it("a context missing from the kubeconfig lists the ones there", () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig, context: "kind-biz1" }),
      new RegExp(
        `^Error: kube context 'kind-biz1' is not in kubeconfig ${kubeconfig} \\(contexts there: kind-mgmt, other\\)`,
      ),
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: join(dir, "nope"), context: "x" }),
      /kubeconfig .*nope cannot be read/,
    );
  });
});
