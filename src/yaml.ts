// The one YAML writer: what it writes means the same to YAML 1.2 readers (ours) and to YAML 1.1 readers
// (kubectl, Helm, Go's yaml.v2), which read plain `off`, `yes`, `0o17` or `1:20` as something other than a string.
import { Document, isScalar, parse, Scalar, type ToStringOptions, visit } from "yaml";

/** A string written plain would be read as something else (a bool, a number, a date, null) by YAML 1.1 or 1.2. */
function ambiguous(s: string): boolean {
  if (s.includes("\n")) return false;
  for (const version of ["1.1", "1.2"] as const) {
    try {
      if (parse(s, { version }) !== s) return true;
    } catch {
      // Not a plain scalar in that version at all: the writer quotes it anyway.
    }
  }
  return false;
}

export function stringify(value: unknown, options: ToStringOptions = {}): string {
  const doc = new Document(value);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && ambiguous(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  // Keys are scalars too, but only when the document was built from nodes: plain object keys are strings here.
  visit(doc, {
    Pair(_key, pair) {
      if (typeof pair.key === "string" && ambiguous(pair.key)) {
        const key = new Scalar(pair.key);
        key.type = Scalar.QUOTE_DOUBLE;
        pair.key = key;
      } else if (isScalar(pair.key) && typeof pair.key.value === "string" && ambiguous(pair.key.value)) {
        pair.key.type = Scalar.QUOTE_DOUBLE;
      }
    },
  });
  return doc.toString(options);
}
