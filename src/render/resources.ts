// Requests and limits per resource profile: small fits four kind clusters on a laptop, large a real cluster.
import type { ComponentKind } from "../components/types.ts";
import type { FleetConfig } from "../topology/schema.ts";

export type Profile = FleetConfig["profile"];

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

/** The small profile, in MiB of memory and millicores; medium and large scale it. No CPU limits: throttling hurts more than it saves. */
const SMALL: Record<ComponentKind | "grafana", { memory: number; limit: number; cpu: number }> = {
  sidecar: { memory: 64, limit: 256, cpu: 25 },
  query: { memory: 64, limit: 512, cpu: 50 },
  "query-frontend": { memory: 64, limit: 256, cpu: 25 },
  store: { memory: 128, limit: 1024, cpu: 50 },
  compact: { memory: 128, limit: 1024, cpu: 50 },
  rule: { memory: 64, limit: 512, cpu: 25 },
  "bucket-web": { memory: 32, limit: 256, cpu: 10 },
  prometheus: { memory: 256, limit: 1024, cpu: 100 },
  alertmanager: { memory: 32, limit: 128, cpu: 10 },
  // Defect 1: the official MinIO chart asks 16Gi per pod; one small replica is plenty for a fleet's blocks.
  "object-store": { memory: 256, limit: 1024, cpu: 50 },
  demo: { memory: 16, limit: 64, cpu: 10 },
  grafana: { memory: 128, limit: 512, cpu: 25 },
};

const SCALE: Record<Profile, number> = { small: 1, medium: 4, large: 16 };

function mib(n: number): string {
  return n % 1024 === 0 ? `${n / 1024}Gi` : `${n}Mi`;
}

export function resourcesFor(kind: ComponentKind | "grafana", profile: Profile): Resources {
  const base = SMALL[kind];
  const k = SCALE[profile];
  return {
    requests: { cpu: `${base.cpu * k}m`, memory: mib(base.memory * k) },
    limits: { memory: mib(base.limit * k) },
  };
}
