// What every step of `up` and `down` shares (kind's ActionContext): the seams, the state, the current render.
import { readFile } from "node:fs/promises";
import type { FleetEndpoints } from "../../endpoints.ts";
import type { DiscoveredAddresses } from "../../render/addresses.ts";
import { renderFleet } from "../../render/render.ts";
import type { RenderedCluster, RenderedFleet } from "../../render/types.ts";
import type { Credentials } from "../../state/credentials.ts";
import type { Renewal } from "../../state/server-certs.ts";
import type { Topology } from "../../topology/topology.ts";
import type { CloseVerify, Reporter } from "../runtime.ts";
import { createKubeApi, type KubeApi } from "./api.ts";
import { type Exec, type RunOptions, realExec } from "./exec.ts";
import { type KubeState, writeState } from "./state.ts";
import { type Clock, realClock } from "./wait.ts";

export interface Timeouts {
  /** `kind create cluster --wait`. */
  kindCreate: string;
  /** `helm upgrade --wait --timeout`. */
  helm: string;
  rolloutMs: number;
  loadBalancerMs: number;
  /** Until every cert-manager Certificate of a cluster is Ready (`tls.issuer`); default 5 minutes. */
  certificateMs?: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  kindCreate: "5m",
  helm: "10m",
  rolloutMs: 10 * 60_000,
  loadBalancerMs: 5 * 60_000,
};

/** The end of `up`: the fleet's own check, on the endpoints the runtime reports. */
export type VerifyHook = CloseVerify;

/** Everything the runtime touches outside itself; tests hand in fakes. */
export interface KubeDeps {
  exec: Exec;
  /** The API of one kube context. */
  api: (context: string) => KubeApi;
  clock: Clock;
  platform: NodeJS.Platform;
  readSysctl: (name: string) => Promise<string | undefined>;
  render: typeof renderFleet;
  /**
   * With TLS: makes or renews each server's own certificate for these addresses, writes it to the state dir, and has
   * every later `render` carry it; returns what it made or renewed. Absent without TLS (and in tests that need none).
   */
  serverCerts?: (discovered: DiscoveredAddresses) => Promise<Renewal[]>;
  timeouts: Timeouts;
  verify?: VerifyHook;
}

/** The real machine: processes, the kubeconfig ($KUBECONFIG or ~/.kube/config), /proc/sys. */
export function realDeps(overrides: Partial<KubeDeps> = {}): KubeDeps {
  const apis = new Map<string, KubeApi>();
  return {
    exec: realExec,
    // Loaded on first use per context, so that contexts kind has just written are found.
    api: (context) => {
      let api = apis.get(context);
      if (!api) {
        api = createKubeApi({ context });
        apis.set(context, api);
      }
      return api;
    },
    clock: realClock,
    platform: process.platform,
    readSysctl: async (name) => {
      try {
        return await readFile(`/proc/sys/${name}`, "utf8");
      } catch {
        return undefined;
      }
    },
    render: renderFleet,
    timeouts: DEFAULT_TIMEOUTS,
    ...overrides,
  };
}

export interface RunContext {
  topology: Topology;
  deps: KubeDeps;
  stateDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  verbose: boolean;
  state: KubeState;
  credentials: Credentials;
  /** The current render: with placeholders until the addresses are discovered, then with them. */
  fleet: RenderedFleet;
  discovered?: DiscoveredAddresses;
  /** kind clusters that exist (from `kind get clusters`). */
  kindExisting: Set<string>;
  /** The kind network is missing: the first cluster is created alone, the rest in parallel. */
  firstAlone: boolean;
  /** Workload clusters whose kube-prometheus-stack release needs an install or upgrade. */
  pendingReleases: string[];
  verifyResult?: { ok: boolean; text: string };
  /** The image archive to load into every kind node before anything is applied (`up --images`, images.archive). */
  imagesArchive?: string;
  /** What endpoints() reports for this fleet, for verify. */
  endpoints: () => Promise<FleetEndpoints>;
  /** Writes the state if it changed. */
  persist(): Promise<void>;
  /** Exec options that stream a tool's output under --verbose, prefixed by the cluster. */
  streaming(prefix: string): RunOptions;
}

export function newRunContext(
  init: Pick<
    RunContext,
    | "topology"
    | "deps"
    | "stateDir"
    | "reporter"
    | "signal"
    | "verbose"
    | "state"
    | "credentials"
    | "discovered"
    | "endpoints"
    | "imagesArchive"
  >,
): RunContext {
  let written = JSON.stringify(init.state);
  // Steps running in parallel persist concurrently: writes go one after another, the latest state last.
  let writing: Promise<void> = Promise.resolve();
  const ctx: RunContext = {
    ...init,
    fleet: init.deps.render(init.topology, { credentials: init.credentials, discovered: init.discovered }),
    kindExisting: new Set(),
    firstAlone: false,
    pendingReleases: [],
    persist() {
      writing = writing.then(async () => {
        const now = JSON.stringify(ctx.state);
        if (now === written) return;
        await writeState(ctx.stateDir, ctx.state);
        written = now;
      });
      return writing;
    },
    streaming(prefix) {
      return {
        signal: ctx.signal,
        ...(ctx.verbose ? { onLine: (line: string) => ctx.reporter.verbose(`[${prefix}] ${line}`) } : {}),
      };
    },
  };
  return ctx;
}

export function renderedCluster(ctx: RunContext, name: string): RenderedCluster {
  const rc = ctx.fleet.clusters.find((c) => c.cluster === name);
  if (!rc) throw new Error(`cluster ${name} is not in the rendered fleet`);
  return rc;
}
