// The `grafana` check: each workload cluster's Grafana reaches Thanos through its "Thanos" datasource (Kubernetes
// runtime only).
import { parse } from "yaml";
import type { FleetEndpoints, GrafanaDatasourceConfigMap } from "../../endpoints.ts";
import { join } from "../../net/http.ts";
import { nodeClient } from "../../net/https.ts";
import { inspectHint } from "../expect.ts";
import { ApiError, type Probe } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass, reason } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const GRAFANA: CheckInfo = { id: "grafana", title: "Grafana's Thanos datasource is healthy" };
export const DATASOURCE = "Thanos";

type Grafana = NonNullable<FleetEndpoints["grafana"]>[number];

async function checkOne(probe: Probe, g: Grafana): Promise<CheckProblem | undefined> {
  const auth = { authorization: `Basic ${Buffer.from(`${g.user}:${g.password}`).toString("base64")}` };
  const hint = inspectHint(
    probe.topology,
    probe.endpoints,
    g.cluster,
    "deploy/kube-prometheus-stack-grafana",
    "grafana",
  );
  let uid: string;
  try {
    const ds = await probe.json<{ uid?: string }>(join(g.url, `/api/datasources/name/${DATASOURCE}`), auth);
    if (!ds.uid) throw new Error(`datasource ${DATASOURCE} has no uid`);
    uid = ds.uid;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return {
        what: `Grafana in ${g.cluster} has no datasource named ${DATASOURCE}`,
        cause: "the datasource was not provisioned (the Grafana values of the chart lack it)",
        fix: `re-apply with \`thanos-fleet up\`; ${hint}`,
      };
    }
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      return {
        what: `Grafana in ${g.cluster} rejected user ${g.user} (${error.status})`,
        cause: "the admin password differs from the one in the state dir",
        fix: `reset it to the state dir's credentials (\`thanos-fleet up\`); ${hint}`,
      };
    }
    return {
      what: `Grafana in ${g.cluster} unreachable at ${g.url}: ${reason(error)}`,
      cause: "Grafana is down or its NodePort is unreachable",
      fix: hint,
    };
  }
  const url = join(g.url, `/api/datasources/uid/${encodeURIComponent(uid)}/health`);
  let res: Awaited<ReturnType<Probe["http"]>>;
  try {
    res = await probe.http(url, { headers: auth });
  } catch (error) {
    return {
      what: `Grafana in ${g.cluster} did not answer ${url}: ${reason(error)}`,
      cause: "Grafana is down or hangs",
      fix: hint,
    };
  }
  let body: { status?: string; message?: string } = {};
  try {
    body = JSON.parse(res.body);
  } catch {
    // a non-JSON answer is reported with its status below
  }
  if (res.status === 200 && body.status === "OK") return undefined;
  return {
    what: `Grafana in ${g.cluster}: datasource ${DATASOURCE} unhealthy (${res.status}${body.message ? `: ${body.message}` : ""})`,
    cause: `Grafana cannot reach Thanos query-frontend in ${probe.topology.observer.name} at the datasource URL`,
    fix: `the datasource URL must be the query-frontend's address as seen from ${g.cluster} (\`thanos-fleet up\` sets it); ${hint}`,
  };
}

/** Undefined when the runtime runs no Grafana (the local runtime): the check is then not listed. */
export async function checkGrafana(probe: Probe): Promise<CheckResult | undefined> {
  const grafanas = probe.endpoints.grafana;
  if (!grafanas || grafanas.length === 0) return undefined;
  const problems = (await Promise.all(grafanas.map((g) => checkOne(probe, g)))).filter(
    (p): p is CheckProblem => Boolean(p),
  );
  if (problems.length > 0) return fail(GRAFANA, problems);
  return pass(GRAFANA, `${grafanas.map((g) => g.cluster).join(", ")}: datasource ${DATASOURCE} OK`);
}

export const GRAFANA_DATASOURCE: CheckInfo = {
  id: "grafana-datasource",
  title: "The Thanos datasource ConfigMap is there for a Grafana of your own",
};
/** The label Grafana's sidecar (kube-prometheus-stack's default) finds datasources by. */
const SIDECAR_LABEL = ["grafana_datasource", "1"] as const;

/** The Thanos datasource as provisioned: what Grafana would send its requests with. */
interface Datasource {
  name?: string;
  url?: string;
  jsonData?: { tlsAuth?: boolean; tlsAuthWithCACert?: boolean; serverName?: string };
  secureJsonData?: Record<string, string>;
}

const FILE_REF = /^\$__file\{(.+)\}$/;
const QUERY = "/api/v1/query?query=1%2B1";
const DATASOURCE_TIMEOUT_MS = 10_000;

/**
 * With `tls.http`: the request Grafana would make through the datasource, made here exactly with its settings: its
 * URL, its CA, its client certificate and key (each `$__file{…}` read from the files the cluster's Secret holds for
 * it), and its server name. Query-frontend must answer it, as it answers Grafana's health check.
 */
async function tryDatasource(
  d: GrafanaDatasourceConfigMap,
  ds: Datasource,
  where: string,
): Promise<CheckProblem | undefined> {
  const json = ds.jsonData ?? {};
  if (!json.tlsAuth || !json.tlsAuthWithCACert) {
    return {
      what: `${where}: datasource ${DATASOURCE} presents no client certificate (jsonData.tlsAuth, tlsAuthWithCACert)`,
      cause:
        "query-frontend asks for the fleet's client certificate (tls.http): Grafana's queries would be refused",
      fix: "re-apply with `thanos-fleet up`",
    };
  }
  const secure = ds.secureJsonData ?? {};
  const material: Record<string, string> = {};
  for (const field of ["tlsCACert", "tlsClientCert", "tlsClientKey"]) {
    const value = secure[field];
    const path = value ? FILE_REF.exec(value)?.[1] : undefined;
    const content = path ? d.files?.[path] : value;
    if (!content) {
      return {
        what: `${where}: datasource ${DATASOURCE}'s secureJsonData.${field} ${path ? `names ${path}, which the cluster's HTTP TLS Secret does not hold` : "is empty"}`,
        cause: "the HTTP TLS Secret is missing or older than the datasource",
        fix: "re-apply with `thanos-fleet up`",
      };
    }
    material[field] = content;
  }
  const client = nodeClient({
    timeoutMs: DATASOURCE_TIMEOUT_MS,
    tls: {
      ca: material.tlsCACert,
      cert: material.tlsClientCert,
      key: material.tlsClientKey,
      ...(json.serverName ? { servername: json.serverName } : {}),
    },
  });
  const url = join(ds.url ?? "", QUERY);
  try {
    const res = await client(url);
    if (res.status === 200) return undefined;
    return {
      what: `${where}: query-frontend answered the datasource's request ${url} with HTTP ${res.status}`,
      cause: "query-frontend is not ready, or refuses the datasource's client certificate",
      fix: "run `thanos-fleet status`, then `thanos-fleet up`",
    };
  } catch (error) {
    return {
      what: `${where}: the datasource's request ${url} failed: ${reason(error)}`,
      cause:
        "query-frontend is unreachable at the datasource URL, or the TLS handshake failed (a CA or client certificate that is not the fleet's)",
      fix: "re-apply with `thanos-fleet up`",
    };
  }
}

async function checkConfigMap(
  probe: Probe,
  d: GrafanaDatasourceConfigMap,
): Promise<CheckProblem | undefined> {
  const where = `ConfigMap ${d.configMap} in ${d.cluster}`;
  const hint = `\`kubectl -n ${d.configMap.split("/")[0]} get configmap ${d.configMap.split("/")[1]} -o yaml\` in ${d.cluster}`;
  if (!d.found) {
    return {
      what: `${where} does not exist`,
      cause:
        "kube-prometheus-stack renders it only with grafana.forceDeployDatasources (set by the fleet when grafana is false)",
      fix: `re-apply with \`thanos-fleet up\``,
    };
  }
  const [key, value] = SIDECAR_LABEL;
  if (d.found.labels[key] !== value) {
    return {
      what: `${where} lacks the label ${key}: "${value}"`,
      cause: "Grafana's sidecar would not pick it up",
      fix: `check the grafana.sidecar.datasources.label values; ${hint}`,
    };
  }
  let sources: Datasource[] = [];
  try {
    sources = ((parse(d.found.datasources) ?? {}) as { datasources?: Datasource[] }).datasources ?? [];
  } catch (error) {
    return {
      what: `${where}: datasource.yaml is not YAML: ${reason(error)}`,
      cause: "the chart rendered it wrongly",
      fix: hint,
    };
  }
  const thanos = sources.find((s) => s.name === DATASOURCE);
  if (!thanos) {
    return {
      what: `${where} has no datasource named ${DATASOURCE}`,
      cause: "the Grafana values of the chart lack it",
      fix: `re-apply with \`thanos-fleet up\`; ${hint}`,
    };
  }
  if (thanos.url !== d.expectedUrl) {
    return {
      what: `${where}: datasource ${DATASOURCE} points at ${thanos.url}, not ${d.expectedUrl}`,
      cause: `the address of query-frontend in ${probe.topology.observer.name} changed since it was rendered`,
      fix: "re-apply with `thanos-fleet up`",
    };
  }
  if (d.files) return tryDatasource(d, thanos, where);
  return undefined;
}

/** Undefined when the fleet runs Grafana (checkGrafana asks Grafana itself) or runs no Kubernetes. */
export async function checkGrafanaDatasources(probe: Probe): Promise<CheckResult | undefined> {
  const found = probe.endpoints.grafanaDatasources;
  if (!found || found.length === 0) return undefined;
  const problems = (await Promise.all(found.map((d) => checkConfigMap(probe, d)))).filter(
    (p): p is CheckProblem => Boolean(p),
  );
  if (problems.length > 0) return fail(GRAFANA_DATASOURCE, problems);
  const tls = found.every((d) => d.files) ? ", answered with the datasource's CA and client certificate" : "";
  return pass(
    GRAFANA_DATASOURCE,
    `${found.map((d) => d.cluster).join(", ")}: ${found[0]?.configMap} labelled grafana_datasource=1, datasource ${DATASOURCE} → ${found[0]?.expectedUrl}${tls}`,
  );
}
