// Makes pods that have no host port reachable from this machine (each query replica, rulers, store, compactor,
// sidecars): a loopback HTTP server in this process forwards to the API server's pod proxy with the kubeconfig's
// credentials, like `kubectl proxy` but without a second process to start and stop.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from "node:net";
import type { KubeApi, ProxyTarget } from "./api.ts";

export interface Route {
  api: KubeApi;
  /** The pod (or Service) and port behind the route, resolved per request: pods of a Deployment get new names. */
  target: () => Promise<ProxyTarget>;
}

/** Request headers worth passing on; the API server authenticates us with the kubeconfig, not with these. */
const FORWARDED = ["accept", "content-type", "content-length", "user-agent"];
const RETURNED = ["content-type", "content-encoding", "cache-control"];

export class EndpointProxy {
  private server?: Server;
  private base?: string;
  private readonly routes = new Map<string, Route>();
  /** One loopback TCP listener per pod port that serves TLS end to end (`forward`). */
  private readonly forwards = new Map<string, { server: TcpServer; url: string }>();
  private readonly sockets = new Set<Socket>();

  /** Listens on 127.0.0.1 at a free port; does not keep the process alive on its own. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`thanos-fleet proxy: ${error.message}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    server.unref();
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Registers a route under `/<id>` and returns its base URL. */
  add(id: string, route: Route): string {
    if (!this.base) throw new Error("the endpoint proxy is not started");
    if (!/^[a-z0-9-]+(\/[a-z0-9.-]+)*$/.test(id))
      throw new Error(`proxy route id '${id}' is not a path of DNS names`);
    this.routes.set(id, route);
    return `${this.base}/${id}`;
  }

  /**
   * A pod port that serves HTTPS and asks for the fleet's client certificate (`tls.http`): the API server's proxy
   * would end the TLS and has no certificate to present, so each connection to a loopback port of this process is
   * forwarded as bytes to the pod's port (port-forward), and TLS runs end to end. Returns `https://127.0.0.1:<port>`.
   */
  async forward(id: string, route: Route): Promise<string> {
    const known = this.forwards.get(id);
    if (known) return known.url;
    const server = createTcpServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      route
        .target()
        .then((t) => route.api.portForward(t.namespace, t.name, t.port, socket))
        .catch(() => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    server.unref();
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.forwards.set(id, { server, url });
    return url;
  }

  /** Whether a URL goes through this proxy (and so lives only as long as this process). */
  owns(url: string): boolean {
    if ([...this.forwards.values()].some((f) => url === f.url || url.startsWith(`${f.url}/`))) return true;
    return this.base !== undefined && url.startsWith(`${this.base}/`);
  }

  async close(): Promise<void> {
    const forwards = [...this.forwards.values()];
    this.forwards.clear();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(forwards.map((f) => new Promise<void>((resolve) => f.server.close(() => resolve()))));
    const server = this.server;
    this.server = undefined;
    this.base = undefined;
    this.routes.clear();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const parts = url.pathname.split("/").filter(Boolean);
    let id = "";
    let route: Route | undefined;
    // The longest registered prefix of the path names the route; the rest goes to the pod.
    for (let n = parts.length; n > 0 && !route; n--) {
      id = parts.slice(0, n).join("/");
      route = this.routes.get(id);
    }
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`thanos-fleet proxy: no route for ${url.pathname}\n`);
      return;
    }
    const rest = url.pathname.slice(id.length + 1) || "/";
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const h of FORWARDED) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    const answer = await route.api.proxy(await route.target(), {
      method: req.method ?? "GET",
      path: `${rest}${url.search}`,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const out: Record<string, string> = {};
    for (const h of RETURNED) if (answer.headers[h]) out[h] = answer.headers[h];
    res.writeHead(answer.status, out);
    res.end(answer.body);
  }
}
