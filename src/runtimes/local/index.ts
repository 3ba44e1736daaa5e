// The local runtime: the whole fleet as real processes on loopback addresses, no container engine. This facade
// joins the modules that do each job: up.ts (the steps of `up`), down.ts, status.ts (status and endpoints).
import type { Runtime } from "../runtime.ts";
import { downLocal } from "./down.ts";
import type { LocalRuntimeOptions } from "./options.ts";
import { localEndpoints, localStatus } from "./status.ts";
import { upLocal } from "./up.ts";

export {
  BLOCK_DURATION_ENV,
  DEFAULT_BLOCK_DURATION,
  DEFAULT_SYNC_INTERVAL,
  type LocalRuntimeOptions,
  resolveLocalOptions,
  SYNC_INTERVAL_ENV,
} from "./options.ts";
export type { LocalOptions, LocalPlan } from "./processes.ts";
/** For tests and benchmarks: the plan `up` would run, without running it. */
export { planLocalFleet } from "./processes.ts";

export function createLocalRuntime(given: LocalRuntimeOptions = {}): Runtime {
  return {
    name: "local",
    up: (topology, opts) => upLocal(topology, opts, given),
    down: (topology, opts) => downLocal(topology, opts, given),
    status: localStatus,
    endpoints: localEndpoints,
  };
}

export const localRuntime: Runtime = createLocalRuntime();
