// Requests and limits per resource profile: small fits four kind clusters on a laptop, large a real cluster. Each
// component module gives its small-profile figures; the profile scales them.
import type { FleetConfig } from "../topology/schema.ts";

export type Profile = FleetConfig["profile"];

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

/** A component's needs in the small profile: memory request and limit in MiB, CPU request in millicores. */
export interface Sizing {
  memory: number;
  limit: number;
  cpu: number;
}

const SCALE: Record<Profile, number> = { small: 1, medium: 4, large: 16 };

/** How many times the small profile's figures a profile gets: memory, CPU, and the concurrency they pay for. */
export function scale(profile: Profile): number {
  return SCALE[profile];
}

/** A component's memory limit in MiB in the given profile. */
export function memoryLimitMiB(sizing: Sizing, profile: Profile): number {
  return sizing.limit * SCALE[profile];
}

/**
 * GOMEMLIMIT for a Go process under a memory limit of `limitMiB`: 80 % of it. The Go runtime collects garbage harder
 * as its heap nears this soft limit instead of growing into the kernel's OOM kill; the other 20 % is what the heap
 * limit does not count (goroutine stacks of many in-flight requests, mmap'd index headers, cgo and runtime overhead).
 */
export function goMemLimit(limitMiB: number): string {
  return `${Math.floor(limitMiB * 0.8)}MiB`;
}

function mib(n: number): string {
  return n % 1024 === 0 ? `${n / 1024}Gi` : `${n}Mi`;
}

/** No CPU limits: throttling hurts more than it saves. */
export function resourcesFor(sizing: Sizing, profile: Profile): Resources {
  const k = SCALE[profile];
  return {
    requests: { cpu: `${sizing.cpu * k}m`, memory: mib(sizing.memory * k) },
    limits: { memory: mib(sizing.limit * k) },
  };
}
