// The `stores` and `duplicates` checks: each query replica sees exactly the fleet's StoreAPIs, and no label set comes
// from two addresses.
import type { Target } from "../../endpoints.ts";
import { labelSetKey, usesReceive } from "../../topology/semantics.ts";
import {
  describeLabels,
  type ExpectedStore,
  expectedStores,
  inspectHint,
  queryPods,
  sameLabels,
  target,
} from "../expect.ts";
import { type Probe, QUERY_ENDPOINT_CHECK_MS, type StoreEntry, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, plural, reason, shortGrpcError } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const STORES: CheckInfo = { id: "stores", title: "query sees every StoreAPI" };
export const DUPLICATES: CheckInfo = { id: "duplicates", title: "no duplicate store endpoint" };

interface QueryReplica {
  pod: string;
  target?: Target;
}

function queryReplicas(probe: Probe): QueryReplica[] {
  const mgmt = probe.topology.observer.name;
  return queryPods(probe.topology).map((pod) => ({
    pod,
    target: target(probe.endpoints, mgmt, "query", pod),
  }));
}

/** The stores of each query replica that answered, and a problem for each that did not. */
export async function readStores(
  probe: Probe,
): Promise<{ views: { pod: string; entries: StoreEntry[] }[]; problems: CheckProblem[] }> {
  const views: { pod: string; entries: StoreEntry[] }[] = [];
  const problems: CheckProblem[] = [];
  const mgmt = probe.topology.observer.name;
  await Promise.all(
    queryReplicas(probe).map(async (q) => {
      if (!q.target) {
        problems.push({
          what: `the runtime reports no address for ${q.pod}`,
          cause: `${q.pod} is not running (fleet.yaml asks for ${probe.topology.observer.queryReplicas} query replicas)`,
          fix: `bring the fleet up with \`thanos-fleet up\`; ${inspectHint(probe.topology, probe.endpoints, mgmt, q.pod)}`,
        });
        return;
      }
      try {
        views.push({ pod: q.pod, entries: await probe.stores(q.target) });
      } catch (error) {
        const why = await unavailable(
          probe,
          q.target.url,
          error,
          `the query process ${q.pod}`,
          `the query process ${q.pod} is down or not ready`,
        );
        problems.push({
          what: `${q.pod} did not answer /api/v1/stores at ${q.target.url}: ${reason(error)}`,
          cause: why.cause,
          fix: why.fix ?? inspectHint(probe.topology, probe.endpoints, mgmt, q.pod, "thanos-query"),
        });
      }
    }),
  );
  views.sort((a, b) => a.pod.localeCompare(b.pod));
  return { views, problems };
}

/**
 * Whether a label set query lists for a StoreAPI server is the one expected: the same labels, or for a receive
 * ingester its own labels with each tenant's (`tenant_id`, one label set per tenant TSDB it holds).
 */
function servesLabels(e: ExpectedStore, labels: Record<string, string>): boolean {
  const want = e.labels ?? {};
  if (e.type !== "receive") return sameLabels(labels, want);
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/** Matches one query replica's entries against the expectations; returns the problems. */
export function compareStores(probe: Probe, queryPod: string, entries: StoreEntry[]): CheckProblem[] {
  const { topology, endpoints } = probe;
  const problems: CheckProblem[] = [];
  const used = new Set<StoreEntry>();
  for (const e of expectedStores(topology)) {
    const t = target(endpoints, e.cluster, e.component, e.pod);
    const byLabels = e.labels
      ? entries.filter((s) => s.type === e.type && s.labelSets.some((l) => servesLabels(e, l)))
      : [];
    const byAddress = entries.filter((s) => t?.grpc !== undefined && s.name === t.grpc);
    const byType =
      e.type === "store" ? entries.filter((s) => s.type === "store" && !used.has(s)).slice(0, 1) : [];
    const candidates = byLabels.length > 0 ? byLabels : byAddress.length > 0 ? byAddress : byType;
    const where = `${e.title} ${e.cluster}/${e.pod}${t?.grpc ? ` (${t.grpc})` : ""}`;
    const hint = inspectHint(topology, endpoints, e.cluster, e.pod, e.container);
    if (candidates.length === 0) {
      problems.push({
        what: `${where} missing from ${queryPod}`,
        cause: e.unreachable,
        fix: hint,
      });
      continue;
    }
    for (const c of candidates) used.add(c);
    const healthy = (c: StoreEntry) => !c.lastError && !c.stale;
    const best = candidates.find((c) => c.name === t?.grpc && healthy(c)) ?? candidates.find(healthy);
    if (!best && candidates.every((c) => !c.lastError)) {
      const first = candidates[0] as StoreEntry;
      problems.push({
        what: `${where} on ${queryPod} was last checked at ${first.lastCheck ?? "?"}, more than one check interval (${QUERY_ENDPOINT_CHECK_MS / 1000} s) ago`,
        cause: "query no longer health-checks it: the endpoint hangs, or query itself is overloaded",
        fix: hint,
      });
      continue;
    }
    if (!best) {
      const first = candidates.find((c) => c.lastError) as StoreEntry;
      const notReady = /not ready/i.test(first.lastError ?? "");
      problems.push({
        what: `${where} unhealthy on ${queryPod}: ${shortGrpcError(first.lastError ?? "")}`,
        cause:
          notReady && e.type === "sidecar"
            ? "the sidecar runs but is not ready: its Prometheus is down (see check sidecars)"
            : e.unreachable,
        fix: hint,
      });
      continue;
    }
    if (e.labels && byLabels.length === 0) {
      problems.push({
        what: `${where} on ${queryPod} serves ${best.labelSets.map(describeLabels).join(", ") || "no labels"}, expected ${describeLabels(e.labels)}`,
        cause: "its external labels differ from fleet.yaml: the process runs with another configuration",
        fix: `re-apply the configuration with \`thanos-fleet up\`; ${hint}`,
      });
    }
  }
  for (const s of entries) {
    if (used.has(s)) continue;
    problems.push({
      what: `unexpected ${s.type} ${s.name} ${s.labelSets.map(describeLabels).join(", ") || "{}"} on ${queryPod}`,
      cause: "query has an endpoint that fleet.yaml does not describe (a hand-added or stale endpoint)",
      fix: "remove it from the query's endpoint configuration; `thanos-fleet up` rewrites it from fleet.yaml",
    });
  }
  return problems;
}

/** The same problem seen by several query replicas, said once: "… missing from thanos-query-0, thanos-query-1". */
function mergeAcrossReplicas(perReplica: { pod: string; problems: CheckProblem[] }[]): CheckProblem[] {
  const merged = new Map<string, { problem: CheckProblem; pods: string[] }>();
  for (const { pod, problems } of perReplica) {
    for (const p of problems) {
      const key = `${p.what.split(pod).join("\u0000")}\u0001${p.cause}\u0001${p.fix}`;
      const m = merged.get(key) ?? { problem: p, pods: [] };
      m.pods.push(pod);
      merged.set(key, m);
    }
  }
  return [...merged.values()].map(({ problem, pods }) => ({
    ...problem,
    what: problem.what.split(pods[0] as string).join(pods.join(", ")),
  }));
}

export async function checkStores(probe: Probe): Promise<CheckResult> {
  const { views, problems } = await readStores(probe);
  problems.push(
    ...mergeAcrossReplicas(
      views.map((v) => ({ pod: v.pod, problems: compareStores(probe, v.pod, v.entries) })),
    ),
  );
  if (problems.length > 0) return fail(STORES, problems);
  const expected = expectedStores(probe.topology);
  const count = (type: ExpectedStore["type"]) => expected.filter((e) => e.type === type).length;
  return pass(
    STORES,
    `${views.map((v) => v.pod).join(", ")} each see ${plural(count("sidecar"), "sidecar")}, ` +
      `${plural(count("store"), "store gateway")}, ${plural(count("rule"), "ruler")}` +
      `${count("receive") > 0 ? `, ${plural(count("receive"), "receive ingester")}` : ""}, all healthy`,
  );
}

/** Label sets that query reaches at more than one address; the store gateway is exempt (it serves every block). */
export function duplicateProducers(entries: StoreEntry[]): { labels: string; names: string[] }[] {
  const byLabels = new Map<string, Set<string>>();
  for (const s of entries) {
    if (s.type === "store") continue;
    for (const l of s.labelSets) {
      const key = labelSetKey(l);
      const names = byLabels.get(key) ?? new Set<string>();
      names.add(s.name);
      byLabels.set(key, names);
    }
  }
  return [...byLabels]
    .filter(([, names]) => names.size > 1)
    .map(([labels, names]) => ({ labels: `{${labels}}`, names: [...names].sort() }));
}

export async function checkDuplicates(probe: Probe): Promise<CheckResult> {
  const { views } = await readStores(probe);
  if (views.length === 0) {
    return fail(DUPLICATES, [
      {
        what: "no query replica answered /api/v1/stores",
        cause: "every query replica is down (see check stores)",
        fix: "bring query back, then verify again",
      },
    ]);
  }
  const problems: CheckProblem[] = [];
  for (const v of views) {
    for (const d of duplicateProducers(v.entries)) {
      problems.push({
        what: `${d.labels} served by ${d.names.join(" and ")} on ${v.pod}`,
        cause:
          "one sidecar is registered under two addresses (or two Prometheus share one external label set): " +
          "query fans every request out twice and logs 'found duplicate storeEndpoints producer'",
        fix: "keep one endpoint per sidecar replica in query's endpoint configuration (`thanos-fleet up` writes exactly one)",
      });
    }
  }
  if (problems.length > 0) return fail(DUPLICATES, problems);
  const producers = new Set(
    views.flatMap((v) => v.entries.filter((s) => s.type !== "store").map((s) => s.name)),
  );
  return pass(
    DUPLICATES,
    `${plural(producers.size, usesReceive(probe.topology.fleet) ? "sidecar, ruler or ingester endpoint" : "sidecar or ruler endpoint")}, each with its own label set`,
  );
}
