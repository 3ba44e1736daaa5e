// Keeps container traffic on this machine: Docker's forwarded traffic to the default-route interface is rejected.
//
// A pod that dials an address before kube-proxy has programmed its node follows the node's default route, which
// leads out of the host. On a test host that must not reach the outside, DOCKER-USER rejects every packet that
// Docker forwards to the outside interface; traffic between containers and to the host's own addresses is untouched.

import { run, succeeds } from "./run.ts";

/** The interface of the host's default route, e.g. eth0. */
export async function defaultRouteInterface(): Promise<string> {
  const routes = JSON.parse(await run("ip", ["-j", "route", "show", "default"])) as { dev?: string }[];
  const dev = routes.find((r) => r.dev)?.dev;
  if (!dev) throw new Error("no default route on this host (ip route show default is empty)");
  return dev;
}

function ruleArgs(dev: string): string[] {
  return ["DOCKER-USER", "-o", dev, "-j", "REJECT"];
}

/** True when DOCKER-USER rejects forwarding to the default-route interface. */
export async function rejectRuleInPlace(): Promise<boolean> {
  const dev = await defaultRouteInterface();
  return succeeds("iptables", ["-w", "-C", ...ruleArgs(dev)]);
}

/** Inserts the reject rule if it is missing (DOCKER-USER exists once dockerd runs); resolves to "cached" if present. */
export async function ensureRejectRule(): Promise<"cached" | undefined> {
  const dev = await defaultRouteInterface();
  if (await succeeds("iptables", ["-w", "-C", ...ruleArgs(dev)])) return "cached";
  await run("iptables", ["-w", "-I", ...ruleArgs(dev)]);
  if (!(await rejectRuleInPlace())) throw new Error(`iptables -I ${ruleArgs(dev).join(" ")} did not stick`);
  return undefined;
}
