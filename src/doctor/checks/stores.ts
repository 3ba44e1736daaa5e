// The StoreAPIs query sees: unhealthy, listed twice, serving the same labels, or without a label that names their
// cluster; and what query's deduplication does to the data.
import type { StoreEntry } from "../../probes/thanos.ts";
import { entryKey, groupBy, isSource, labelKey, replicaLike, without } from "../labels.ts";
import type { Finding, Observation } from "../types.ts";

function describe(e: StoreEntry): string {
  return `${e.name} (${e.type}) serving ${e.labelSets.map(labelKey).join(" ") || "no labels"}`;
}

/** The endpoints query's flags name (`--endpoint`, `--store`), as written. */
function configuredEndpoints(o: Observation): string[] {
  const flags = o.query.flags ?? {};
  return ["endpoint", "store", "endpoint-strict", "store-strict"]
    .flatMap((f) => (flags[f] ?? "").split(/[,\n]/))
    .map((a) => a.trim())
    .filter(Boolean);
}

/** An endpoint's state in one read of query's stores: not listed, answering, or failing. */
function stateIn(entries: StoreEntry[], name: string): "absent" | "healthy" | "failing" {
  const e = entries.find((x) => x.name === name);
  return !e ? "absent" : e.lastError ? "failing" : "healthy";
}

/**
 * Endpoints whose state changed at least twice within doctor's sampling window (up, down and up again; listed, gone
 * and listed again), with their states in order. One change is a process that came or went: the last read tells it.
 */
export function flapping(o: Observation): { name: string; type: string; states: string[] }[] {
  const samples = o.query.storeSamples ?? [];
  const names = [...new Set(samples.flatMap((s) => s.entries.map((e) => `${e.type} ${e.name}`)))];
  const out: { name: string; type: string; states: string[] }[] = [];
  for (const key of names) {
    const [type, name] = key.split(" ") as [string, string];
    const states = samples.map((s) => stateIn(s.entries, name));
    const changes = states.filter((st, i) => i > 0 && st !== states[i - 1]).length;
    if (changes >= 2) out.push({ name, type, states });
  }
  return out;
}

export function flappingStores(o: Observation): Finding[] {
  const found = flapping(o);
  if (found.length === 0) return [];
  const samples = o.query.storeSamples ?? [];
  const window = ((samples.at(-1)?.at ?? 0) - (samples[0]?.at ?? 0)) / 1000;
  return [
    {
      id: "store-flapping",
      severity: "error",
      title: `${found.length} StoreAPI endpoint(s) flap between answering and failing: their data comes and goes from one query to the next`,
      evidence: found.map(
        (f) =>
          `${o.query.url}/api/v1/stores read ${samples.length} times in ${window.toFixed(0)} s: ${f.name} (${f.type}) ${f.states.join(" → ")}`,
      ),
      fix: "find why the process behind it stops answering (restarts, OOM kills, CPU throttling, a load balancer rotating replicas behind one address): its log and restarts; give each replica its own --endpoint",
    },
  ];
}

export function unhealthyStores(o: Observation): Finding[] {
  const flaps = new Set(flapping(o).map((f) => f.name));
  const bad = o.query.stores.filter((e) => e.lastError && !flaps.has(e.name));
  const seen = new Set(o.query.stores.map((e) => e.name));
  // Query lists an endpoint only once it has answered; a plain address it never reached is not in the list at all.
  const never = configuredEndpoints(o).filter((a) => !a.includes("+") && !seen.has(a));
  if (bad.length === 0 && never.length === 0) return [];
  return [
    {
      id: "store-unhealthy",
      severity: "error",
      title: `${bad.length + new Set(never).size} StoreAPI endpoint(s) query cannot reach: their data is missing from every answer`,
      evidence: [
        ...bad.map((e) => `${o.query.url}/api/v1/stores: ${e.name} (${e.type}) lastError: ${e.lastError}`),
        ...[...new Set(never)].map(
          (a) =>
            `${o.query.url}/api/v1/status/flags names endpoint ${a}; /api/v1/stores does not list it: it never answered`,
        ),
      ],
      fix: "start the process behind each address or correct the address; remove endpoints that are gone from query's --endpoint flags",
    },
  ];
}

export function storesListedTwice(o: Observation): Finding[] {
  const evidence = [...groupBy(o.query.stores, (e) => e.name)]
    .filter(([, es]) => es.length > 1)
    .map(([name, es]) => `${o.query.url}/api/v1/stores: ${name} appears ${es.length} times`);
  const twice = [...groupBy(configuredEndpoints(o), (a) => a.replace(/^dns(srv)?\+/, ""))].filter(
    ([, as]) => as.length > 1,
  );
  evidence.push(
    ...twice.map(
      ([a, as]) => `${o.query.url}/api/v1/status/flags: endpoint ${a} is named ${as.length} times`,
    ),
  );
  if (evidence.length === 0) return [];
  return [
    {
      id: "store-listed-twice",
      severity: "error",
      title: "a StoreAPI endpoint is listed more than once in query's configuration",
      evidence,
      fix: "list each endpoint once in query's --endpoint (or --store) flags and its --endpoint.sd-config files",
    },
  ];
}

/** Labels query deduplicates on, as the data shows: present without dedup, gone with it. */
export function dedupLabels(o: Observation): Set<string> {
  return new Set(
    o.dedup.filter((d) => d.rawValues.length > 0 && d.dedupValues.length === 0).map((d) => d.label),
  );
}

export function duplicateLabelSets(o: Observation): Finding[] {
  const sources = o.query.stores.filter((e) => isSource(e) && !e.lastError && e.labelSets.length > 0);
  const groups = [...groupBy(sources, entryKey)].filter(([, es]) => new Set(es.map((e) => e.name)).size > 1);
  return groups.map(([key, es]) => ({
    id: "store-duplicate-labels",
    severity: "error",
    title: `${es.length} StoreAPIs serve the same external labels ${key}: query cannot tell their series apart`,
    evidence: es.map((e) => `${o.query.url}/api/v1/stores: ${describe(e)}`),
    fix: "give each Prometheus (ruler, receiver) its own external labels: a cluster label per cluster and a replica label per HA replica, e.g. global.external_labels: {cluster: eu1, prometheus_replica: prometheus-0}",
  }));
}

export function replicasNotDeduplicated(o: Observation): Finding[] {
  return o.dedup
    .filter((d) => replicaLike(d.label) && d.dedupValues.length > 1)
    .map((d) => ({
      id: "replica-not-deduplicated",
      severity: "error",
      title: `query does not deduplicate on the replica label ${d.label}: every HA series is counted once per replica`,
      evidence: [
        `${o.query.url}/api/v1/query?dedup=true ${d.expr}: ${d.label} keeps ${d.dedupValues.map((v) => `"${v}"`).join(", ")}`,
      ],
      fix: `add --query.replica-label=${d.label} to query (and to the ruler's, if a ruler queries it)`,
    }));
}

export function dedupAcrossClusters(o: Observation): Finding[] {
  const dedup = dedupLabels(o);
  const sources = o.query.stores.filter((e) => isSource(e) && !e.lastError && e.labelSets.length > 0);
  const findings: Finding[] = [];
  for (const label of [...dedup].filter((l) => !replicaLike(l))) {
    // Sources that deduplication merges, though this label gives them different values.
    const merged = [...groupBy(sources, (e) => e.labelSets.map((s) => labelKey(without(s, dedup))).join(" "))]
      .map(([, es]) => es)
      .filter((es) => new Set(es.flatMap((e) => e.labelSets.map((s) => s[label]))).size > 1);
    if (merged.length === 0) continue;
    const d = o.dedup.find((p) => p.label === label);
    findings.push({
      id: "dedup-merges-clusters",
      severity: "error",
      title: `query deduplicates on ${label}, the label that tells clusters apart: their series are merged as if replicas`,
      evidence: [
        `${o.query.url}/api/v1/query ${d?.expr}: dedup=false keeps ${label} = ${d?.rawValues.join(", ")}; dedup=true keeps none`,
        ...merged.flat().map((e) => `${o.query.url}/api/v1/stores: ${describe(e)}`),
      ],
      fix: `remove --query.replica-label=${label} from query; deduplicate only on the label that tells HA replicas apart (e.g. prometheus_replica)`,
    });
  }
  return findings;
}

export function missingClusterLabel(o: Observation): Finding[] {
  const findings: Finding[] = [];
  const live = o.query.stores.filter((e) => isSource(e) && !e.lastError);
  const bare = live.filter(
    (e) => e.type === "sidecar" && e.labelSets.every((s) => Object.keys(s).length === 0),
  );
  if (bare.length > 0) {
    findings.push({
      id: "sidecar-no-external-labels",
      severity: "error",
      title:
        "a Prometheus serves no external labels through its sidecar: its series cannot be told from others'",
      evidence: bare.map((e) => `${o.query.url}/api/v1/stores: ${describe(e)}`),
      fix: "set global.external_labels in that Prometheus's config: {cluster: <name>, prometheus_replica: <pod>}",
    });
  }
  // The labels that name a source, once replica labels and what query deduplicates on are set aside. Rulers are
  // left out: they evaluate over the global view, and their series belong to no one cluster.
  const dedup = dedupLabels(o);
  const scraped = live.filter((e) => e.type !== "rule");
  const identity = (e: StoreEntry) =>
    e.labelSets.flatMap((s) => Object.keys(s)).filter((k) => !dedup.has(k) && !replicaLike(k));
  const named = scraped.filter((e) => identity(e).length > 0);
  const unnamed = scraped.filter((e) => identity(e).length === 0 && !bare.includes(e));
  if (named.length > 0 && unnamed.length > 0) {
    const counts = groupBy(named.flatMap(identity), (k) => k);
    const label = [...counts].sort((a, b) => b[1].length - a[1].length)[0]?.[0] ?? "cluster";
    findings.push({
      id: "no-cluster-label",
      severity: "error",
      title: `series without a ${label} label: once deduplicated, nothing says which cluster they come from`,
      evidence: [
        ...unnamed.map((e) => `${o.query.url}/api/v1/stores: ${describe(e)}: no ${label}`),
        `unlike ${named.map(describe).join("; ")}`,
      ],
      fix: `add ${label}: <name> to each such Prometheus's global.external_labels (a ruler's --label, a receiver's --label)`,
    });
  }
  return findings;
}
