// Run as a child process by hang_test.ts: the real verify against endpoints that all point at one address,
// with top-level await, as the CLI runs it. Usage: hang-verify.ts <host:port> <timeoutMs> [--idle-fetch]
// --idle-fetch: fetch holds no handle that keeps Node running (as undici's connection may not), and settles only
// when its signal aborts; then only the deadline itself can keep the process alive.
import { readFileSync } from "node:fs";
import { loadTopology } from "../../topology/load.ts";
import { fetchClient } from "../../net/http.ts";
import { formatReport } from "../report.ts";
import { verifyFleet } from "../verify.ts";

const [address = "", timeoutMs = "500", mode] = process.argv.slice(2);
if (mode === "--idle-fetch") {
  globalThis.fetch = (_url, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true });
    });
}
const { endpoints } = JSON.parse(readFileSync(new URL("./fresh.json", import.meta.url), "utf8"));
const pointed = JSON.parse(
  JSON.stringify(endpoints).replace(/http:\/\/[0-9.]+:[0-9]+/g, `http://${address}`),
);
const report = await verifyFleet(await loadTopology(), pointed, { http: fetchClient(Number(timeoutMs)) });
process.stdout.write(formatReport(report));
