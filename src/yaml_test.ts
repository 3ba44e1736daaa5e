import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { fleetFiles } from "./render/files.ts";
import { configs, render } from "./render/testdata/fixtures.ts";
import { stringify } from "./yaml.ts";

/** Every document of a YAML text, as a YAML 1.1 reader (kubectl, Helm, Go's yaml.v2) and a YAML 1.2 reader read it. */
function readings(text: string): { v11: unknown[]; v12: unknown[] } {
  const read = (version: "1.1" | "1.2") =>
    parseAllDocuments(text, { version }).map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join("; "));
      return d.toJS();
    });
  return { v11: read("1.1"), v12: read("1.2") };
}

/** YAML held inside rendered objects: ConfigMap data and Secret stringData named *.yml or *.yaml. */
function embedded(doc: unknown): { name: string; text: string }[] {
  const o = doc as { kind?: string; data?: Record<string, string>; stringData?: Record<string, string> };
  if (o?.kind !== "ConfigMap" && o?.kind !== "Secret") return [];
  return Object.entries({ ...o.data, ...o.stringData })
    .filter(([name]) => /\.ya?ml$/.test(name))
    .map(([name, text]) => ({ name, text }));
}

const SRC = import.meta.dirname;

const AMBIGUOUS = [
  "y",
  "Y",
  "n",
  "N",
  "yes",
  "Yes",
  "YES",
  "no",
  "No",
  "NO",
  "on",
  "On",
  "ON",
  "off",
  "Off",
  "OFF",
  "true",
  "True",
  "TRUE",
  "false",
  "False",
  "FALSE",
  "null",
  "Null",
  "~",
  "",
  "0o17",
  "0x1F",
  "017",
  "1_000",
  "1:20",
  "190:20:30",
  "1.5e3",
  ".inf",
  "-.Inf",
  ".NaN",
  "2001-12-14",
  "2001-12-14t21:59:43.10-05:00",
  "12",
  "-3",
  "+4",
  "0b101",
];

describe("YAML written for kubectl and Helm means the same to a YAML 1.1 reader", () => {
  test("every scalar YAML 1.1 or 1.2 would read as something else is quoted, keys too", () => {
    const value = Object.fromEntries(AMBIGUOUS.map((s, i) => [s || `empty${i}`, { value: s, list: [s] }]));
    const text = stringify(value);
    const { v11, v12 } = readings(text);
    assert.deepEqual(v11, [value]);
    assert.deepEqual(v12, [value]);
  });

  test("plain words, numbers and booleans stay as they are; multi-line text stays a block", () => {
    assert.equal(
      stringify({ a: "thanos", b: 3, c: true, d: "line 1\nline 2\n", e: null }),
      "a: thanos\nb: 3\nc: true\nd: |\n  line 1\n  line 2\ne: null\n",
    );
  });

  for (const { name, topology } of configs()) {
    for (const discovered of [true, false]) {
      test(`${name}${discovered ? "" : " (addresses not discovered)"}: every rendered file, and the YAML inside ConfigMaps and Secrets`, () => {
        let files = 0;
        for (const f of fleetFiles(topology, render(topology, discovered), "out")) {
          if (!f.path.endsWith(".yaml")) continue;
          files++;
          const { v11, v12 } = readings(f.content);
          assert.deepEqual(v11, v12, f.path);
          for (const doc of v12) {
            for (const e of embedded(doc)) {
              const inner = readings(e.text);
              assert.deepEqual(inner.v11, inner.v12, `${f.path}: ${e.name}`);
            }
          }
        }
        assert.ok(files > 5);
      });
    }
  }
});

test("every YAML the product writes goes through this writer", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.ts$/.test(e.name) && !/_test\.ts$/.test(e.name) && path !== join(SRC, "yaml.ts")) {
        const text = readFileSync(path, "utf8");
        if (/import \{[^}]*\bstringify\b[^}]*\} from "yaml"/.test(text)) offenders.push(relative(SRC, path));
      }
    }
  };
  walk(SRC);
  assert.deepEqual(offenders, [], "import stringify from src/yaml.ts instead");
});
