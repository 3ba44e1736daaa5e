// The `ruler` check: every ruler loads and evaluates the fleet's rules, and the always-firing watchdog reaches mgmt's
// Alertmanager.

import { MGMT_ALERTMANAGER_POD } from "../../components/alertmanager.ts";
import { WORKLOAD } from "../../components/thanos/common.ts";
import { rulerLabels, rulerPodNames } from "../../components/thanos/rule.ts";
import type { Target } from "../../endpoints.ts";
import { HttpError, join } from "../../net/http.ts";
import { metricValue } from "../../probes/metrics.ts";
import { expectedRuleGroups, inspectHint, target, WATCHDOG_ALERT } from "../expect.ts";
import { classifyFailure, type Probe, unavailable } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, pending, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const RULER: CheckInfo = { id: "ruler", title: "rulers evaluate; watchdog reaches Alertmanager" };

/** How long after an alert fires the ruler may take to deliver it: the eval interval, then its 1m resend. */
const DELIVERY_GRACE_MS = 90_000;

interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  state?: string;
  alerts?: { labels: Record<string, string>; state: string; activeAt?: string }[];
}
interface GroupState {
  name: string;
  interval: number;
  lastEvaluation?: string;
  rules: RuleState[];
}
interface AmAlert {
  labels: Record<string, string>;
  status?: { state?: string };
  startsAt?: string;
}

function age(now: number, iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) || t <= 0 ? Number.POSITIVE_INFINITY : now - t;
}

async function senderErrors(probe: Probe, pod: string): Promise<string> {
  const t = target(probe.endpoints, probe.topology.observer.name, "rule", pod);
  if (!t) return "";
  try {
    const samples = await probe.metrics(t);
    const errors = metricValue(samples, "thanos_alert_sender_errors_total") ?? 0;
    const dropped = metricValue(samples, "thanos_alert_sender_alerts_dropped_total") ?? 0;
    return errors + dropped > 0 ? `${pod} reports ${errors} send errors, ${dropped} alerts dropped` : "";
  } catch {
    return "";
  }
}

/** When the process started (ms), from the standard process_start_time_seconds of its /metrics. */
async function startTime(probe: Probe, t: Target): Promise<number | undefined> {
  try {
    const seconds = metricValue(await probe.metrics(t), "process_start_time_seconds");
    return seconds === undefined ? undefined : seconds * 1000;
  } catch {
    return undefined;
  }
}

export async function checkRuler(probe: Probe): Promise<CheckResult> {
  const { topology, endpoints } = probe;
  const mgmt = topology.observer.name;
  const now = probe.now().getTime();
  const groups = expectedRuleGroups();
  const problems: CheckProblem[] = [];
  const firingSince: number[] = [];
  const waiting: { text: string; until: number }[] = [];
  const pods = rulerPodNames(topology);

  await Promise.all(
    pods.map(async (pod) => {
      const hint = inspectHint(topology, endpoints, mgmt, pod, "thanos-ruler");
      const t = target(endpoints, mgmt, "rule", pod);
      if (!t) {
        problems.push({
          what: `the runtime reports no ${pod}`,
          cause: `${pod} is not running`,
          fix: "bring the fleet up with `thanos-fleet up`",
        });
        return;
      }
      let loaded: GroupState[];
      try {
        loaded = (await probe.api<{ groups: GroupState[] }>(t.url, "/api/v1/rules")).groups ?? [];
      } catch (error) {
        const why = await unavailable(probe, t.url, error, pod);
        problems.push({
          what: `${pod} did not answer /api/v1/rules at ${t.url}: ${reason(error)}`,
          cause: why.cause,
          fix: why.fix ?? hint,
        });
        return;
      }
      for (const g of groups) {
        const got = loaded.find((l) => l.name === g.name);
        if (!got) {
          problems.push({
            what: `${pod} has no rule group ${g.name}`,
            cause: "the ruler runs without the fleet's rule file",
            fix: `re-apply the configuration with \`thanos-fleet up\`; ${hint}`,
          });
          continue;
        }
        const stale = age(now, got.lastEvaluation);
        if (stale === Number.POSITIVE_INFINITY) {
          const started = await startTime(probe, t);
          const due = started === undefined ? undefined : started + 3 * g.intervalMs + 5000;
          if (due !== undefined && now < due) {
            waiting.push({
              text: `${pod} started ${Math.round((now - (started ?? now)) / 1000)}s ago, first evaluation pending`,
              until: due,
            });
          } else {
            problems.push({
              what: `${pod} group ${g.name} never evaluated${started === undefined ? "" : ` in ${Math.round((now - started) / 1000)}s`}`,
              cause: "the ruler's evaluation loop is stuck",
              fix: hint,
            });
          }
          continue;
        }
        if (stale > 3 * g.intervalMs + 5000) {
          problems.push({
            what: `${pod} group ${g.name} last evaluated ${Math.round(stale / 1000)}s ago (every ${g.intervalMs / 1000}s)`,
            cause: "the ruler's evaluation loop is stuck",
            fix: hint,
          });
        }
        for (const r of g.rules) {
          const rule = got.rules.find((x) => x.name === r.name);
          if (!rule) {
            problems.push({
              what: `${pod} group ${g.name} lacks rule ${r.name}`,
              cause: "the ruler runs an older rule file",
              fix: `re-apply with \`thanos-fleet up\`; ${hint}`,
            });
          } else if (rule.health !== "ok") {
            problems.push({
              what: `${pod} rule ${r.name} is ${rule.health}${rule.lastError ? `: ${rule.lastError}` : ""}`,
              cause:
                `the ruler's query failed: ${WORKLOAD.query} in ${mgmt} is unreachable, or one of its StoreAPIs fails ` +
                "and the rule group aborts on partial responses (see checks stores and query)",
              fix: hint,
            });
          }
          if (r.name === WATCHDOG_ALERT && rule) {
            const active = rule.alerts?.find((a) => a.state === "firing");
            if (active) firingSince.push(Date.parse(active.activeAt ?? "") || now);
            else {
              problems.push({
                what: `${pod}: ${WATCHDOG_ALERT} is ${rule.state ?? "not firing"}, it always fires`,
                cause: "the ruler does not evaluate alerting rules",
                fix: hint,
              });
            }
          }
        }
      }
    }),
  );

  // The watchdog at the Alertmanager: labelled like the rulers, minus the dropped replica label.
  const am = target(endpoints, mgmt, "alertmanager");
  const want: Record<string, string> = { ...rulerLabels(topology, "x"), alertname: WATCHDOG_ALERT };
  delete want.ruler_replica;
  const amHint = inspectHint(topology, endpoints, mgmt, am?.pod ?? MGMT_ALERTMANAGER_POD, "alertmanager");
  let delivered = false;
  if (!am) {
    problems.push({
      what: `the runtime reports no Alertmanager in ${mgmt}`,
      cause: "the rulers' alerts go nowhere",
      fix: "bring the fleet up with `thanos-fleet up`",
    });
  } else {
    try {
      const url = join(
        am.url,
        `/api/v2/alerts?filter=${encodeURIComponent(`alertname="${WATCHDOG_ALERT}"`)}`,
      );
      const alerts = await probe.json<AmAlert[]>(url);
      const match = alerts.find((a) => Object.entries(want).every(([k, v]) => a.labels?.[k] === v));
      if (!match && firingSince.length === 0 && waiting.length === 0 && problems.length === 0) {
        problems.push({
          what: `${WATCHDOG_ALERT} is not in ${mgmt}'s Alertmanager and no ruler fires it`,
          cause: "the rulers do not evaluate the fleet's rules",
          fix: amHint,
        });
      }
      if (match) delivered = true;
      if (!match && firingSince.length > 0) {
        const since = Math.min(...firingSince);
        const errors = (await Promise.all(pods.map((p) => senderErrors(probe, p))))
          .filter(Boolean)
          .join("; ");
        if (now - since < DELIVERY_GRACE_MS && !errors) {
          waiting.push({
            text: `${WATCHDOG_ALERT} fired moments ago, not yet at the Alertmanager`,
            until: since + DELIVERY_GRACE_MS,
          });
        } else {
          problems.push({
            what: `${WATCHDOG_ALERT} fires since ${new Date(since).toISOString()} but is not in ${mgmt}'s Alertmanager (${am.url})${errors ? `; ${errors}` : ""}`,
            cause:
              "the rulers cannot deliver alerts: --alertmanagers.url points elsewhere or Alertmanager was unreachable",
            fix: `check the ruler's --alertmanagers.url and its log; ${amHint}`,
          });
        }
      }
    } catch (error) {
      const errors = (await Promise.all(pods.map((p) => senderErrors(probe, p)))).filter(Boolean).join("; ");
      problems.push({
        what: `${mgmt} Alertmanager unreachable at ${am.url}: ${reason(error)}${errors ? `; ${errors}` : ""}`,
        cause:
          error instanceof HttpError
            ? `${classifyFailure(error, `Alertmanager in ${mgmt}`).cause}: the rulers' alerts are dropped`
            : "the process at the Alertmanager address does not answer like Alertmanager",
        fix: classifyFailure(error, `Alertmanager in ${mgmt}`).fix ?? amHint,
      });
    }
  }
  if (problems.length > 0) return fail(RULER, problems);
  const groupNames = groups.map((g) => g.name).join(", ");
  if (waiting.length > 0 || !delivered) {
    const until = waiting.length > 0 ? Math.max(...waiting.map((w) => w.until)) : undefined;
    return pending(
      RULER,
      `${pods.join(", ")} load ${groupNames}; ${waiting.map((w) => w.text).join("; ") || `${WATCHDOG_ALERT} not yet at the Alertmanager`}`,
      until === undefined ? undefined : new Date(until),
    );
  }
  return pass(
    RULER,
    `${pods.join(", ")} evaluate ${groupNames}; ${WATCHDOG_ALERT} is active in ${mgmt}'s Alertmanager`,
  );
}
