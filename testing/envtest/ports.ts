// Free loopback ports for the control plane's listeners, asked of the kernel rather than guessed.

import { createServer, type Server } from "node:net";
import { tcpOpen } from "../../src/runtimes/local/supervisor.ts";

/** Ports the kernel hands out on 127.0.0.1 right now; all held at once so that they differ. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("a listening socket has no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return tcpOpen(`127.0.0.1:${port}`);
}
