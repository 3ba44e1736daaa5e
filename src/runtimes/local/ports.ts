// Whether the fleet's addresses are free before `up` and closed after `down`.
import { createServer } from "node:net";
import { tcpOpen } from "./supervisor.ts";

export interface Busy {
  address: string;
  code: string;
}

function tryBind(address: string): Promise<Busy | undefined> {
  const sep = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve({ address, code: err.code ?? err.message }));
    server.listen(
      { host: address.slice(0, sep), port: Number(address.slice(sep + 1)), exclusive: true },
      () => server.close(() => resolve(undefined)),
    );
  });
}

/** Addresses that cannot be bound now (taken by another program, or not a local address on this machine). */
export async function unbindable(addresses: string[]): Promise<Busy[]> {
  const results = await Promise.all(addresses.map(tryBind));
  return results.filter((r): r is Busy => r !== undefined);
}

export function describeUnbindable(busy: Busy[], subnetEnv: string, subnet: string): string {
  const next = `127.${(Number(subnet.split(".")[1]) + 1) % 256}`;
  const inUse = busy.filter((b) => b.code === "EADDRINUSE").map((b) => b.address);
  const other = busy.filter((b) => b.code !== "EADDRINUSE");
  const parts: string[] = [];
  if (inUse.length > 0) {
    parts.push(
      `${inUse.length} address(es) of the fleet are already in use by another program: ${inUse.slice(0, 8).join(", ")}` +
        `${inUse.length > 8 ? ", …" : ""}. Stop that program, or give the fleet another subnet, e.g. ${subnetEnv}=${next}`,
    );
  }
  if (other.length > 0) {
    parts.push(
      `cannot bind ${other
        .slice(0, 4)
        .map((b) => `${b.address} (${b.code})`)
        .join(", ")}${other.length > 4 ? ", …" : ""}: ` +
        "this machine does not route all of 127.0.0.0/8 to loopback (Linux does; on macOS add aliases with " +
        "'sudo ifconfig lo0 alias <ip>')",
    );
  }
  return parts.join("\n");
}

/** Addresses that still accept TCP connections. */
export async function stillOpen(addresses: string[]): Promise<string[]> {
  const open = await Promise.all(addresses.map(async (a) => ((await tcpOpen(a, 500)) ? a : undefined)));
  return open.filter((a): a is string => a !== undefined);
}
