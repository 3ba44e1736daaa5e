// Imports run one way: fleet.yaml → model → components → render → runtimes → verify → commands → CLI. The test reads
// every import of every non-test module under src/ and fails on one that points up the layers.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, it } from "node:test";
import { importsOf, relativeImports } from "../testing/imports.ts";

const SRC = import.meta.dirname;

/**
 * Each folder (or top-level file) of src/ and its layer: a module may import from its own layer and the ones below.
 * A new folder must be placed here.
 */
const LAYERS: Record<string, number> = {
  // Shared utilities that know nothing of the fleet.
  "yaml.ts": 0,
  "versions.ts": 0,
  "duration.ts": 0,
  "tar.ts": 0,
  net: 0,
  ui: 0,
  binaries: 0,
  // What any Thanos shows of itself (its APIs, metrics and bucket), read without knowing who made it.
  probes: 0,
  // fleet.yaml, validated.
  topology: 1,
  // Credentials, TLS material and the runtime record in the state dir.
  state: 2,
  // What each process is, and what a running fleet reports to verify.
  components: 3,
  "endpoints.ts": 3,
  // Kubernetes artifacts and image archives.
  render: 4,
  images: 4,
  // How the fleet is realised.
  runtimes: 5,
  // What the running system must show.
  verify: 6,
  // What any Thanos shows, judged without knowing what was meant: the known misconfigurations.
  doctor: 6,
  drill: 7,
  commands: 8,
  "cli.ts": 9,
  "index.ts": 9,
};

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testdata" ? [] : modules(path);
    return e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") ? [path] : [];
  });
}

/** The folder (or top-level file) of src/ a path is in. */
function areaOf(path: string): string {
  return relative(SRC, path).split(sep)[0] as string;
}

interface Edge {
  from: string;
  to: string;
}

function importGraph(): Edge[] {
  return modules(SRC).flatMap((file) =>
    relativeImports(file).map((to) => ({ from: relative(SRC, file), to: relative(SRC, to) })),
  );
}

const graph = importGraph();
const show = (edges: Edge[]) => edges.map((e) => `${e.from} → ${e.to}`).join("\n");
const under = (area: string) => (path: string) => areaOf(join(SRC, path)) === area;

describe("imports run one way", () => {
  it("reads the imports of every module, static and dynamic", () => {
    assert.deepEqual(importsOf('import { a } from "./a.ts";\nexport type { B } from "../b.ts";'), [
      "./a.ts",
      "../b.ts",
    ]);
    assert.deepEqual(importsOf('import x, { y } from "./x.ts";\nconst m = await import("./m.ts");'), [
      "./x.ts",
      "./m.ts",
    ]);
    assert.deepEqual(importsOf('import type {\n  A,\n  B,\n} from "./ab.ts";\nimport "./side.ts";'), [
      "./ab.ts",
      "./side.ts",
    ]);
    assert.ok(graph.some((e) => e.from === "cli.ts" && e.to === join("runtimes", "index.ts")));
  });

  it("places every folder of src/ in a layer", () => {
    const unplaced = [...new Set(modules(SRC).map(areaOf))].filter((a) => !(a in LAYERS));
    assert.deepEqual(unplaced, [], "add each to LAYERS in layers_test.ts");
  });

  it("no module imports from a layer above its own", () => {
    const rank = (path: string) => LAYERS[areaOf(join(SRC, path))] ?? Number.POSITIVE_INFINITY;
    assert.equal(show(graph.filter((e) => rank(e.to) > rank(e.from))), "");
  });

  it("no runtime imports verify: commands/up joins them", () => {
    assert.equal(show(graph.filter((e) => under("runtimes")(e.from) && under("verify")(e.to))), "");
  });

  it("components and state import only topology and the shared utilities", () => {
    const low = (e: Edge) => under("components")(e.from) || under("state")(e.from);
    const allowed = (e: Edge) =>
      (LAYERS[areaOf(join(SRC, e.to))] ?? Number.POSITIVE_INFINITY) <= (LAYERS.components as number);
    assert.equal(show(graph.filter((e) => low(e) && !allowed(e))), "");
  });

  it("ui imports no runtime", () => {
    assert.equal(show(graph.filter((e) => under("ui")(e.from) && under("runtimes")(e.to))), "");
  });
});
