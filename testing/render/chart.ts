// The pinned kube-prometheus-stack chart as `npm run kind:host` caches it, and what it makes of a set of values:
// `helm template` renders the chart's own objects, checked against the chart's own CRD schemas (structuralErrors).
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { binCacheDir } from "../../src/binaries/cache.ts";
import { PINNED } from "../../src/versions.ts";
import { stringify } from "../../src/yaml.ts";

const run = promisify(execFile);

export interface CachedChart {
  dir: string;
  helm: string;
}

/** The cached chart and a helm to template it with, or why there is none (the test is then skipped). */
export function cachedChart(): CachedChart | { missing: string } {
  const bin = binCacheDir();
  const dir = join(dirname(bin), "charts", `kube-prometheus-stack-${PINNED.kubePrometheusStack}`);
  if (!existsSync(join(dir, "Chart.yaml"))) return { missing: `no chart at ${dir}; run npm run kind:host` };
  const helmDir = existsSync(bin) ? readdirSync(bin).find((d) => d.startsWith("helm-")) : undefined;
  const helm = helmDir ? join(bin, helmDir, "helm") : undefined;
  if (!helm || !existsSync(helm)) return { missing: `no helm under ${bin}; run npm run kind:host` };
  return { dir, helm };
}

/** The objects of one chart template, rendered from these values. */
export async function helmTemplate(
  chart: CachedChart,
  values: Record<string, unknown>,
  template: string,
): Promise<Record<string, unknown>[]> {
  const child = run(
    chart.helm,
    ["template", "kube-prometheus-stack", chart.dir, "-n", "monitoring", "-f", "-", "--show-only", template],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  child.child.stdin?.end(stringify(values));
  const { stdout } = await child;
  return parseAllDocuments(stdout)
    .map((d) => d.toJSON() as Record<string, unknown> | null)
    .filter((o): o is Record<string, unknown> => o !== null);
}

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
};

/** The openAPIV3Schema of a CRD of the chart (charts/crds/crds/crd-<plural>.yaml), at its first version. */
export function crdSchema(chart: CachedChart, plural: string): Schema {
  const crd = parse(
    readFileSync(join(chart.dir, "charts", "crds", "crds", `crd-${plural}.yaml`), "utf8"),
  ) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  const version = crd.spec.versions[0];
  if (!version) throw new Error(`crd-${plural}.yaml has no version`);
  return version.schema.openAPIV3Schema;
}

/**
 * What the API server would refuse or prune in `value` by a structural schema: a field the schema does not know
 * (pruned silently, so a misspelt field does nothing), a wrong type, a value outside its enum or pattern, a required
 * field missing. One line per problem, with its path.
 */
export function structuralErrors(value: unknown, schema: Schema, path = ""): string[] {
  if (schema["x-kubernetes-preserve-unknown-fields"] && !schema.properties) return [];
  if (schema["x-kubernetes-int-or-string"]) {
    return typeof value === "string" || Number.isInteger(value) ? [] : [`${path}: not an int or string`];
  }
  const type = schema.type;
  const is = (t: string) =>
    t === "array"
      ? Array.isArray(value)
      : t === "object"
        ? typeof value === "object" && value !== null && !Array.isArray(value)
        : t === "integer"
          ? Number.isInteger(value)
          : typeof value === t;
  if (type && !is(type)) return [`${path}: ${JSON.stringify(value)} is not ${type}`];
  const out: string[] = [];
  if (schema.enum && !schema.enum.includes(value))
    out.push(`${path}: ${JSON.stringify(value)} not in its enum`);
  if (schema.pattern && typeof value === "string" && !new RegExp(schema.pattern).test(value)) {
    out.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    value.forEach((v, i) => {
      out.push(...structuralErrors(v, items, `${path}[${i}]`));
    });
  }
  if (type === "object" && typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in record)) out.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(record)) {
      const known = schema.properties?.[k];
      const extra = schema.additionalProperties;
      if (known) out.push(...structuralErrors(v, known, `${path}.${k}`));
      else if (typeof extra === "object") out.push(...structuralErrors(v, extra, `${path}.${k}`));
      else if (!schema["x-kubernetes-preserve-unknown-fields"] && extra !== true) {
        out.push(`${path}.${k}: unknown field`);
      }
    }
  }
  return out;
}
