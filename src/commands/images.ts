// `thanos-fleet images [--json]` lists every image the fleet runs and where; `images save FILE` writes exactly those
// (the kind node image aside) into one archive with `docker save`, for `up --images FILE` on a machine offline.
import { rename, rm, stat } from "node:fs/promises";
import { type FleetImage, fleetImages } from "../render/images.ts";
import { renderFleet } from "../render/render.ts";
import { type Exec, ExecError, realExec } from "../runtimes/kube/exec.ts";
import type { Topology } from "../topology/topology.ts";
import { table } from "../ui/table.ts";

/** Images do not depend on credentials or TLS material: the listing renders with stand-ins that are never written. */
const STAND_IN = "listing-only";

/** The TLS material of a server and the fleet's client: every file a stand-in. */
const STAND_IN_TLS = {
  ca: STAND_IN,
  cert: STAND_IN,
  key: STAND_IN,
  clientCert: STAND_IN,
  clientKey: STAND_IN,
  serverName: STAND_IN,
};

export function listImages(topology: Topology): FleetImage[] {
  const { tls } = topology.fleet;
  const fleet = renderFleet(topology, {
    credentials: {
      minioRoot: { user: STAND_IN, password: STAND_IN },
      thanos: { accessKey: STAND_IN, secretKey: STAND_IN },
      grafana: { user: STAND_IN, password: STAND_IN },
    },
    ...(tls.grpc ? { grpcTls: STAND_IN_TLS } : {}),
    ...(tls.http ? { httpTls: STAND_IN_TLS } : {}),
    ...(topology.storage && tls.s3
      ? {
          s3Tls: {
            ca: STAND_IN,
            cert: STAND_IN,
            key: STAND_IN,
            internalCert: STAND_IN,
            internalKey: STAND_IN,
            serverName: STAND_IN,
          },
        }
      : {}),
    ...(tls.issuer ? { issuerCa: STAND_IN } : {}),
  });
  return fleetImages(topology, fleet.clusters);
}

const usedBy = (i: FleetImage) => i.usedBy.map((u) => `${u.cluster}/${u.component}`).join(", ");

export function imagesCommand(
  topology: Topology,
  opts: { json: boolean; stdout?: NodeJS.WritableStream },
): void {
  const stdout = opts.stdout ?? process.stdout;
  const images = listImages(topology);
  if (opts.json) {
    stdout.write(`${JSON.stringify({ images }, null, 2)}\n`);
    return;
  }
  stdout.write(
    table(
      ["IMAGE", "USED BY"],
      images.map((i) => [i.image, usedBy(i)]),
    ),
  );
}

/** Whether the local Docker has the image. */
async function present(exec: Exec, image: string): Promise<boolean> {
  try {
    await exec.run("docker", ["image", "inspect", "--format", "{{.Id}}", image]);
    return true;
  } catch (error) {
    if (error instanceof ExecError && /no such image/i.test(`${error.stderr}${error.stdout}`)) return false;
    throw error;
  }
}

/** A user error: exit code 2, the message alone. */
class SaveError extends Error {
  readonly exitCode = 2;
}

/** `docker save` of every image the fleet's nodes run into FILE; fails naming each image the local Docker lacks. */
export async function imagesSaveCommand(
  topology: Topology,
  file: string,
  opts: { exec?: Exec; stdout?: NodeJS.WritableStream; signal?: AbortSignal } = {},
): Promise<string[]> {
  const exec = opts.exec ?? realExec;
  const stdout = opts.stdout ?? process.stdout;
  const all = listImages(topology);
  const images = all.filter((i) => !i.kindNode);
  stdout.write(`checking ${images.length} images in the local Docker …\n`);
  const missing: FleetImage[] = [];
  for (const i of images) if (!(await present(exec, i.image))) missing.push(i);
  if (missing.length > 0) {
    throw new SaveError(
      `${missing.length === 1 ? "an image is" : `${missing.length} images are`} not in the local Docker; nothing was written:\n${missing
        .map((i) => `  - ${i.image} (${usedBy(i)})`)
        .join(
          "\n",
        )}\nfix: 'docker pull' or build each one, or turn the component off with kubePrometheusStackValues in fleet.yaml`,
    );
  }
  const names = images.map((i) => i.image);
  stdout.write(`saving ${names.length} images into ${file} (docker save) …\n`);
  const tmp = `${file}.partial`;
  try {
    await exec.run("docker", ["save", "--output", tmp, ...names], { signal: opts.signal });
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const size = await stat(file)
    .then((s) => ` (${(s.size / 1024 ** 2).toFixed(0)} MiB)`)
    .catch(() => "");
  // `docker save` keeps a tag, not a digest.
  const nodeImages = all.filter((i) => i.kindNode).map((i) => i.image.replace(/@sha256:.*$/, ""));
  stdout.write(
    `wrote ${file}${size}: ${names.length} images; load them with 'thanos-fleet up --images ${file}'\n`,
  );
  if (nodeImages.length > 0) {
    stdout.write(
      `the kind node image is not in it (kind runs it with Docker, not inside a node): on a machine offline, 'docker load' it from 'docker save ${nodeImages.join(" ")}'\n`,
    );
  }
  return names;
}
