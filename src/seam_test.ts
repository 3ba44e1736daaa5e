// A component's pod names are made by its module (podName in src/components/types.ts and the module's own
// `…PodNames`): the test reads every non-test module outside src/components/ and fails on a pod name written out
// there, `${workload}-${i}` or `${workload}-0`.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

const SRC = import.meta.dirname;

/** A template literal that joins a name and a replica index with '-': `${x}-${i}`, `${x}-${n - 1}`, `${x}-0`. */
const POD_NAME_WRITTEN_OUT = /\$\{[^}]+\}-(?:\$\{\s*(?:i|index|r|replica|[^}]*\s-\s1)\s*\}|\d+`)/;

/** Where a pod name may still be written out, and why. */
const ALLOWED: Record<string, string> = {
  // The Prometheus pods are named by the operator, and those names are the `prometheus_replica` label values the
  // topology's labels carry (Workload.replicaNames): made once, below the components.
  "topology/topology.ts": "prometheusReplicaName",
};

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testdata" || e.name === "components" ? [] : modules(path);
    return e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") ? [path] : [];
  });
}

function writtenOut(text: string): string[] {
  return text
    .split("\n")
    .flatMap((line, i) => (POD_NAME_WRITTEN_OUT.test(line) ? [`${i + 1}: ${line.trim()}`] : []));
}

describe("pod names come from the component modules", () => {
  it("recognises a pod name written out, and not a name joined with a word", () => {
    // Samples of source text, with #{ for the placeholder.
    const code = (sample: string) => sample.replaceAll("#{", "${");
    assert.equal(writtenOut(code("const p = `#{pod.name}-#{i}`;")).length, 1);
    assert.equal(writtenOut(code("pod: `#{WORKLOAD.compact}-0`,")).length, 1);
    assert.equal(
      writtenOut(code("const last = `#{WORKLOAD.query}-#{topology.observer.queryReplicas - 1}`;")).length,
      1,
    );
    assert.equal(writtenOut(code("return `#{pod.name}-#{c.name}-config`;")).length, 0);
    assert.equal(writtenOut(code("const dir = `#{name}-#{version}`;")).length, 0);
  });

  it("no module outside src/components/ writes one out", () => {
    const found = modules(SRC).flatMap((file) => {
      const path = relative(SRC, file);
      if (ALLOWED[path]) return [];
      return writtenOut(readFileSync(file, "utf8")).map((l) => `${path}:${l}`);
    });
    assert.deepEqual(found, [], "use podName or the owning module's pod names");
  });
});
