// The seam between the CLI and a runtime: local processes, or Kubernetes (kind or existing clusters).
import type { FleetEndpoints } from "../endpoints.ts";
import type { RuntimeName } from "../state/runtime.ts";
import type { Topology } from "../topology/topology.ts";
import type { WaitAttempt } from "../ui/progress.ts";
import type { Reporter } from "../ui/reporter.ts";

export type { Reporter };

/**
 * The verify that ends `up`, on the endpoints the runtime reports. The command that runs `up` hands it in; it throws
 * when the fleet fails a check, which fails `up`.
 */
export type CloseVerify = (
  topology: Topology,
  opts: {
    endpoints: () => Promise<FleetEndpoints>;
    signal: AbortSignal;
    /** After each attempt that did not settle: what is still pending or failing. */
    onProgress?: (attempt: WaitAttempt) => void;
  },
) => Promise<{
  ok: boolean;
  /** The verify table, as printed. */
  text: string;
}>;

export interface UpOptions {
  stateDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  verbose: boolean;
  /** Ends `up` once the fleet runs (the CLI's default; `--no-verify`, tests and benchmarks leave it out). */
  verify?: CloseVerify;
  /** An image archive to load into the kind nodes (Kubernetes runtime), over fleet.yaml's images.archive. */
  images?: string;
}

export interface DownOptions extends UpOptions {
  /** Also delete data and state. */
  purge: boolean;
  /** How long to wait until what was deleted from existing Kubernetes clusters is gone (default 5 min). */
  waitMs?: number;
}

export interface ProcessStatus {
  cluster: string;
  component: string;
  pod: string;
  pid?: number;
  address: string;
  ready: boolean;
  /** Times it was started again after it died (a container's restartCount). */
  restarts: number;
  /** running, CrashLoopBackOff (next start in 20 s), held down, dead, … */
  state?: string;
  /** How it last ended, when it did. */
  lastExit?: string;
  /** The end of its log, while it is in a crash loop. */
  logTail?: string;
  urls: Record<string, string>;
}

export interface Runtime {
  name: RuntimeName;
  /** Releases what the runtime held open for this process (connections, listeners); the fleet is not touched. */
  close?(): Promise<void>;
  /** Brings the fleet up; a second call on a running fleet reports it and changes nothing. */
  up(topology: Topology, opts: UpOptions): Promise<void>;
  /** Stops or deletes what up created and nothing else; idempotent. */
  down(topology: Topology, opts: DownOptions): Promise<void>;
  status(topology: Topology, opts: { stateDir: string }): Promise<ProcessStatus[]>;
  endpoints(topology: Topology, opts: { stateDir: string }): Promise<FleetEndpoints>;
}
