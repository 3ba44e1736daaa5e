// Ports for tests that run servers of their own.
import { once } from "node:events";
import { createServer } from "node:net";

/** A free port on `host`, found by binding port 0. Use an address no other program uses, so it stays free. */
export async function freePort(host: string): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}
