// The seam between the CLI and a runtime: local processes, or Kubernetes (kind or existing clusters).
import type { FleetEndpoints } from "../endpoints.ts";
import type { Topology } from "../topology/topology.ts";

export interface Reporter {
  /** A step starts; the returned function ends it, with an error if it failed. */
  step(title: string): (error?: Error) => void;
  info(line: string): void;
  verbose(line: string): void;
}

export interface UpOptions {
  stateDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  verbose: boolean;
  /** End `up` with a verify of the running fleet (the CLI's default; tests and benchmarks skip it). */
  verify?: boolean;
  /** An image archive to load into the kind nodes (Kubernetes runtime), over fleet.yaml's images.archive. */
  images?: string;
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
  name: "local" | "kubernetes";
  /** Brings the fleet up; a second call on a running fleet reports it and changes nothing. */
  up(topology: Topology, opts: UpOptions): Promise<void>;
  /** Stops or deletes what up created and nothing else; idempotent. */
  down(topology: Topology, opts: UpOptions & { purge: boolean }): Promise<void>;
  status(topology: Topology, opts: { stateDir: string }): Promise<ProcessStatus[]>;
  endpoints(topology: Topology, opts: { stateDir: string }): Promise<FleetEndpoints>;
}
