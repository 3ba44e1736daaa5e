// Doctor's reading of Kubernetes objects: the Thanos containers of every Deployment and StatefulSet a context shows,
// as components with the flags their args set (and Thanos's defaults for the flags doctor judges). Lists only.
import type { KubeApi } from "../runtimes/kube/api.ts";
import type { Component, ComponentKind } from "./types.ts";

/** All doctor may ask of an API server. */
export type KubeReader = Pick<KubeApi, "context" | "list">;

const COMPONENTS: Record<string, ComponentKind> = {
  query: "query",
  "query-frontend": "query-frontend",
  store: "store",
  compact: "compact",
  sidecar: "sidecar",
  rule: "rule",
  receive: "receive",
};

/** Thanos's defaults for the flags doctor judges, where a flag left out means something. */
const DEFAULTS: Partial<Record<ComponentKind, Record<string, string>>> = {
  query: { "query.auto-downsampling": "false", "query.timeout": "2m", "store.response-timeout": "0ms" },
  "query-frontend": {
    "query-range.request-downsampled": "true",
    "query-range.align-range-with-step": "true",
    "query-range.response-cache-max-freshness": "1m",
  },
  store: { "store.limits.request-series": "0", "store.limits.request-samples": "0" },
  compact: {
    "retention.resolution-raw": "0d",
    "retention.resolution-5m": "0d",
    "retention.resolution-1h": "0d",
    "downsampling.disable": "false",
  },
};

/** `--a=b`, `--a b`, `--flag` and `--no-flag` as the flags API shows them. */
export function parseArgs(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) {
      const name = arg.slice(2, eq);
      flags[name] = flags[name] === undefined ? arg.slice(eq + 1) : `${flags[name]},${arg.slice(eq + 1)}`;
    } else if (arg.startsWith("--no-")) {
      flags[arg.slice(5)] = "false";
    } else if (args[i + 1] !== undefined && !(args[i + 1] as string).startsWith("-")) {
      flags[arg.slice(2)] = args[++i] as string;
    } else {
      flags[arg.slice(2)] = "true";
    }
  }
  return flags;
}

interface Workload {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    replicas?: number;
    template?: {
      spec?: { containers?: { name?: string; image?: string; command?: string[]; args?: string[] }[] };
    };
  };
}

function versionOfImage(image: string): string | undefined {
  const tag = /:([^:/@]+)(@.*)?$/.exec(image)?.[1];
  return tag ? tag.replace(/^v/, "") : undefined;
}

/** Every Thanos container of the context's Deployments and StatefulSets, as a component. */
export async function kubeComponents(api: KubeReader): Promise<Component[]> {
  const out: Component[] = [];
  for (const kind of ["Deployment", "StatefulSet"]) {
    let workloads: Workload[];
    try {
      workloads = (await api.list("apps/v1", kind)) as Workload[];
    } catch (error) {
      out.push({
        url: `kube:${api.context}`,
        kind: "unknown",
        samples: [],
        source: "kube",
        error: `listing ${kind}s: ${(error as Error).message}`,
      });
      continue;
    }
    for (const w of workloads) {
      for (const c of w.spec?.template?.spec?.containers ?? []) {
        const words = [...(c.command ?? []), ...(c.args ?? [])];
        const component = words.map((word) => COMPONENTS[word]).find((k) => k !== undefined);
        if (!component || !/thanos/.test(`${c.image ?? ""} ${words.join(" ")}`)) continue;
        const version = versionOfImage(c.image ?? "");
        out.push({
          url: `kube:${api.context}/${w.metadata?.namespace}/${kind}/${w.metadata?.name}/${c.name}`,
          kind: component,
          samples: [],
          source: "kube",
          flags: { ...DEFAULTS[component], ...parseArgs(words) },
          replicas: w.spec?.replicas ?? 1,
          ...(version ? { version } : {}),
        });
      }
    }
  }
  return out;
}
