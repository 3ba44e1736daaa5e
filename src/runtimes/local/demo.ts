// The demo workload of a local workload cluster: a tiny HTTP service whose metrics carry its cluster's name,
// so that a query through mgmt shows data from every cluster. Run as `node demo.js --listen=HOST:PORT --cluster=NAME`.
import { createServer } from "node:http";

function flag(name: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  if (!arg || arg.length === prefix.length) {
    process.stderr.write(`demo: missing ${prefix}VALUE\nusage: demo --listen=HOST:PORT --cluster=NAME\n`);
    process.exit(2);
  }
  return arg.slice(prefix.length);
}

const listen = flag("listen");
const cluster = flag("cluster");
const sep = listen.lastIndexOf(":");
const host = listen.slice(0, sep);
const port = Number(listen.slice(sep + 1));
if (sep < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`demo: --listen=${listen} is not HOST:PORT\n`);
  process.exit(2);
}

const started = Date.now();
const requests = { "/": 0, "/metrics": 0 } as Record<string, number>;
// Simulated traffic, so the counter grows between scrapes: five requests a second.
const tick = setInterval(() => {
  requests["/"] = (requests["/"] ?? 0) + 5;
}, 1000);
tick.unref();

const escapeLabel = (v: string) => v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

function metrics(): string {
  const c = `cluster="${escapeLabel(cluster)}"`;
  const lines = [
    "# HELP fleet_demo_requests_total Requests the demo workload has served.",
    "# TYPE fleet_demo_requests_total counter",
    ...Object.entries(requests).map(([path, n]) => `fleet_demo_requests_total{${c},path="${path}"} ${n}`),
    "# HELP fleet_demo_start_time_seconds When the demo workload started.",
    "# TYPE fleet_demo_start_time_seconds gauge",
    `fleet_demo_start_time_seconds{${c}} ${started / 1000}`,
  ];
  return `${lines.join("\n")}\n`;
}

const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (path === "/metrics") {
    requests["/metrics"] = (requests["/metrics"] ?? 0) + 1;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics());
  } else if (path === "/-/ready" || path === "/-/healthy") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
  } else if (path === "/") {
    requests["/"] = (requests["/"] ?? 0) + 1;
    res.writeHead(200, { "content-type": "text/plain" }).end(`fleet demo workload of cluster ${cluster}\n`);
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
});
server.on("error", (err) => {
  process.stderr.write(`demo: cannot listen on ${listen}: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, host, () =>
  process.stdout.write(`demo workload of cluster ${cluster} listening on ${listen}\n`),
);
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
