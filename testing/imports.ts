// The relative imports of a TypeScript module, static and dynamic, read from its text: for the tests that check
// which way imports run and what the package ships.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

const IMPORT =
  /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s+["']([^"']+)["']/gm;
const BARE_IMPORT = /^\s*import\s+["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every module specifier the text imports or re-exports from. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT), ...text.matchAll(BARE_IMPORT), ...text.matchAll(DYNAMIC_IMPORT)].map(
    (m) => m[1] as string,
  );
}

/** The files a module imports by relative path, resolved; a path that names no file throws. */
export function relativeImports(file: string): string[] {
  return importsOf(readFileSync(file, "utf8"))
    .filter((spec) => spec.startsWith("."))
    .map((spec) => {
      const to = resolve(dirname(file), spec);
      if (!existsSync(to)) throw new Error(`${file} imports ${spec}, which does not exist`);
      return to;
    });
}

/** Every module reachable from the entries by relative imports. */
export function reachable(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    todo.push(...relativeImports(file));
  }
  return seen;
}
