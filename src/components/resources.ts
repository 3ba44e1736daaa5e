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
