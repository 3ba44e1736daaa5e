// Every image a fleet runs, and where: from the rendered manifests, the chart's images for the rendered values, and
// the kind node image. `thanos-fleet images`, `images save` and the air-gapped preflight read this one list.
import type { Topology } from "../topology/topology.ts";
import { chartImages } from "./chart-images.ts";
import type { KubeObject, RenderedCluster } from "./types.ts";

export interface ImageUse {
  cluster: string;
  component: string;
}

export interface FleetImage {
  /** The full name, registry included, e.g. `quay.io/thanos/thanos:v0.42.4`. */
  image: string;
  usedBy: ImageUse[];
  /** The kind node image runs as a Docker container on the host, not inside a node. */
  kindNode?: boolean;
}

/**
 * The name with its registry and, for Docker Hub, `library/`: how containerd names it and how `docker save` names
 * compare (`node:20` and `docker.io/library/node:20` are one image).
 */
export function normalizeImage(image: string): string {
  const [first, ...rest] = image.split("/");
  const hasRegistry = rest.length > 0 && (/[.:]/.test(first ?? "") || first === "localhost");
  if (hasRegistry) return image;
  if (rest.length === 0) return `docker.io/library/${image}`;
  return `docker.io/${image}`;
}

/** The image name under a registry mirror prefix, e.g. `mirror.example.com/` + `quay.io/thanos/thanos:v0.42.4`. */
export function mirrorImage(prefix: string | undefined, image: string): string {
  return prefix ? `${prefix}${normalizeImage(image)}` : image;
}

/** Containers (init containers too) of the workloads among the objects, with the workload's name. */
function manifestImages(objects: KubeObject[]): { component: string; image: string }[] {
  const out: { component: string; image: string }[] = [];
  for (const o of objects) {
    const spec = o.spec as
      | { template?: { spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] } } }
      | undefined;
    const pod = spec?.template?.spec;
    if (!pod) continue;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      if (c.image) out.push({ component: o.metadata.name, image: c.image });
    }
  }
  return out;
}

/** The fleet's images, sorted by name, each with every cluster and component that runs it. */
export function fleetImages(topology: Topology, clusters: RenderedCluster[]): FleetImage[] {
  const byImage = new Map<string, FleetImage>();
  const add = (image: string, use: ImageUse, kindNode = false) => {
    let entry = byImage.get(image);
    if (!entry) {
      entry = { image, usedBy: [], ...(kindNode ? { kindNode } : {}) };
      byImage.set(image, entry);
    }
    if (!entry.usedBy.some((u) => u.cluster === use.cluster && u.component === use.component)) {
      entry.usedBy.push(use);
    }
  };
  for (const rc of clusters) {
    if (rc.kindConfig)
      add(topology.fleet.versions.kindNodeImage, { cluster: rc.cluster, component: "kind node" }, true);
    for (const x of manifestImages(rc.manifests))
      add(x.image, { cluster: rc.cluster, component: x.component });
    if (rc.helmValues) {
      const values = rc.helmValues as {
        prometheus?: {
          prometheusSpec?: {
            image?: { registry: string; repository: string; tag: string };
            thanos?: { image?: string };
          };
        };
        alertmanager?: {
          alertmanagerSpec?: { image?: { registry: string; repository: string; tag: string } };
        };
      };
      const spec = values.prometheus?.prometheusSpec;
      const ref = (i?: { registry: string; repository: string; tag: string }) =>
        i ? `${i.registry}/${i.repository}:${i.tag}` : undefined;
      const own = [
        { component: "prometheus", image: ref(spec?.image) },
        { component: "thanos-sidecar", image: spec?.thanos?.image },
        { component: "alertmanager", image: ref(values.alertmanager?.alertmanagerSpec?.image) },
      ];
      for (const x of own) if (x.image) add(x.image, { cluster: rc.cluster, component: x.component });
      for (const x of chartImages(rc.helmValues))
        add(x.image, { cluster: rc.cluster, component: x.component });
    }
  }
  return [...byImage.values()].sort((a, b) => a.image.localeCompare(b.image));
}
