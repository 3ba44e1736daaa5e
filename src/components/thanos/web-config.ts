// The web config of a Thanos HTTP server (`--http.config`): Prometheus's exporter-toolkit format, which Thanos v0.42
// reads once at start for its rate limit and on every request for the rest. Every section a component needs is built
// here, into one object, so that each is written by one function and the file is one YAML document.
import { stringify } from "../../yaml.ts";
import type { SpecContext } from "../context.ts";
import type { ConfigFile } from "../types.ts";

export const WEB_CONFIG_FILE = "web-config.yaml";

/**
 * exporter-toolkit's `rate_limit`: one token bucket in front of every HTTP path of the server, /-/healthy, /-/ready
 * and /metrics included. It holds `burst` tokens and gains one every `interval`; a request that finds none is answered
 * 429 Too Many Requests at once, before any handler runs.
 */
export interface RateLimit {
  /** A Go duration: "125ms". */
  interval: string;
  burst: number;
}

/** The sections of the web config this fleet sets (exporter-toolkit v0.15 rejects keys it does not know). */
export interface WebConfig {
  rate_limit?: RateLimit;
}

/** What a component asks of its HTTP server; each part becomes its own section. */
export interface WebParts {
  rateLimit?: RateLimit;
}

/** The web config of one HTTP server, as a structured object: each part of `WebParts` in its own section. */
export function webConfig(parts: WebParts): WebConfig {
  return {
    ...(parts.rateLimit
      ? { rate_limit: { interval: parts.rateLimit.interval, burst: parts.rateLimit.burst } }
      : {}),
  };
}

/** `--http.config` and the file it names in the container's config dir; nothing when there is nothing to set. */
export function webConfigFile(
  ctx: SpecContext,
  workload: string,
  container: string,
  parts: WebParts,
): { args: string[]; files: ConfigFile[] } {
  const config = webConfig(parts);
  if (Object.keys(config).length === 0) return { args: [], files: [] };
  return {
    args: [`--http.config=${ctx.configDir(workload, container)}/${WEB_CONFIG_FILE}`],
    files: [{ name: WEB_CONFIG_FILE, content: stringify(config) }],
  };
}
