// Label sets as doctor compares and shows them.
import type { StoreEntry } from "../probes/thanos.ts";

/** `{a="1",b="2"}`, names sorted: equal sets give equal strings. */
export function labelKey(set: Record<string, string>): string {
  const parts = Object.keys(set)
    .sort()
    .map((k) => `${k}="${set[k]}"`);
  return `{${parts.join(",")}}`;
}

/** Every label set an endpoint serves, as one string. */
export function entryKey(e: StoreEntry): string {
  return e.labelSets.map(labelKey).sort().join(" ");
}

/** A label that tells HA replicas apart, by its name. */
export function replicaLike(name: string): boolean {
  return /replica/i.test(name);
}

export function without(set: Record<string, string>, names: Set<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(set).filter(([k]) => !names.has(k)));
}

/** StoreAPIs that hold a source's own data (Prometheus via its sidecar, a ruler, a receiver), not a bucket's. */
export function isSource(e: StoreEntry): boolean {
  return e.type !== "store" && e.type !== "query";
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Items grouped by key, in first-seen order (Map.groupBy arrived after Node 20). */
export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Where a component's flags were read: its flags API, or its Kubernetes object's args. */
export function flagsAt(c: { url: string; source?: "kube" }): string {
  return c.source === "kube" ? `${c.url} args` : `${c.url}/api/v1/status/flags`;
}
