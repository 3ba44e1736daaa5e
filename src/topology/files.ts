// The files fleet.yaml names (chart.path, images.archive, objectStore.credentialsFile): there, and of the right kind,
// before a verb that uses them writes anything. Their content is checked by whoever reads it.
import { stat } from "node:fs/promises";
import { ConfigError, type ConfigProblem, fieldPath } from "./errors.ts";
import { fleetPath, type Topology } from "./topology.ts";

interface NamedFile {
  path: PropertyKey[];
  value: string | undefined;
  /** What it must be: a chart may be a directory or a .tgz. */
  kind: "file" | "file or directory";
  fix: string;
}

function namedFiles(topology: Topology): NamedFile[] {
  const { fleet } = topology;
  return [
    {
      path: ["chart", "path"],
      value: fleet.chart?.path,
      kind: "file or directory",
      fix: "point chart.path at the kube-prometheus-stack chart (.tgz or directory; 'helm pull' fetches it), or remove chart to use the Helm repository",
    },
    {
      path: ["images", "archive"],
      value: fleet.images.archive,
      kind: "file",
      fix: "write it with 'thanos-fleet images save FILE', or remove images.archive",
    },
    {
      path: ["objectStore", "credentialsFile"],
      value: fleet.objectStore?.credentialsFile,
      kind: "file",
      fix: "create it with access_key and secret_key (YAML), or point credentialsFile at it",
    },
  ];
}

/** Each file fleet.yaml names that is missing or not a file: one ConfigError (exit 2) at their lines, or nothing. */
export async function checkNamedFiles(topology: Topology): Promise<void> {
  const problems: ConfigProblem[] = [];
  for (const f of namedFiles(topology)) {
    if (f.value === undefined) continue;
    const resolved = fleetPath(topology, f.value);
    const shown =
      resolved === f.value ? resolved : `${resolved} (${f.value}, relative to fleet.yaml's directory)`;
    let message: string | undefined;
    try {
      const s = await stat(resolved);
      if (!s.isFile() && !(f.kind === "file or directory" && s.isDirectory()))
        message = `${shown} is not a ${f.kind}`;
    } catch (error) {
      message = `${shown} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
    if (message) {
      const line = topology.lineOf(f.path);
      problems.push({
        field: fieldPath(f.path),
        ...(line === undefined ? {} : { line }),
        message,
        fix: f.fix,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(topology.source, problems);
}
