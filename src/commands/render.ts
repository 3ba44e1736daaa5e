// `thanos-fleet render --out DIR`: writes every artifact the Kubernetes runtime applies, and PLAN.md, then says what it wrote.

import { chmod, mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { storageService } from "../components/storage.ts";
import { ADDRESSES_FILE, placeholder, readDiscoveredAddresses } from "../render/addresses.ts";
import { fleetFiles, type RenderedFile } from "../render/files.ts";
import { renderFleet } from "../render/render.ts";
import { FILES } from "../render/runbook.ts";
import { loadKubeLeaves } from "../runtimes/kube/certs.ts";
import { CREDENTIALS_FILE } from "../state/credentials.ts";
import { ensureStateDir } from "../state/dir.ts";
import { loadFleetCredentials } from "../state/fleet-credentials.ts";
import { loadFleetTls, loadGrpcTls, loadS3Tls } from "../state/tls.ts";
import { loadIssuerCa, loadUserCa } from "../state/user-ca.ts";
import type { Topology } from "../topology/topology.ts";
import { checkRenderInputs } from "./inputs.ts";

/** Writes through a temporary file, so that secrets.yaml never exists with wider permissions than 0600. */
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export async function renderCommand(
  topology: Topology,
  opts: { out: string; stateDir: string; stdout?: NodeJS.WritableStream },
): Promise<RenderedFile[]> {
  const stdout = opts.stdout ?? process.stdout;
  await checkRenderInputs(topology);
  // The user's own CA (tls.ca) is checked before the state dir is made.
  const userCa = await loadUserCa(topology);
  // So is the CA a cert-manager Issuer signs with (tls.issuer).
  const issuerCa = await loadIssuerCa(topology);
  const discovered = await readDiscoveredAddresses(opts.stateDir);
  // The credentials file of an external object store is read before the state dir is made or written.
  const { credentials, save } = await loadFleetCredentials(topology, opts.stateDir);
  await ensureStateDir(opts.stateDir);
  await save();
  const fleetTls =
    topology.fleet.tls.grpc || topology.fleet.tls.http
      ? await loadFleetTls(opts.stateDir, userCa)
      : undefined;
  await fleetTls?.save();
  const grpcTls = topology.fleet.tls.grpc ? fleetTls?.grpc : undefined;
  const httpTls = topology.fleet.tls.http ? fleetTls?.http : undefined;
  const s3 =
    topology.storage && topology.fleet.tls.s3
      ? await loadS3Tls(
          opts.stateDir,
          storageService(topology),
          userCa && (await loadGrpcTls(opts.stateDir, userCa)),
        )
      : undefined;
  await s3?.save();
  const tlsOpts = { credentials, grpcTls, httpTls, s3Tls: s3?.tls };
  // Each server's own certificate, for the addresses `up` found. Before any `up` the node addresses are placeholders
  // PLAN.md has filled in later, which no certificate can name: the shared certificates, and the one name clients
  // verify against them, stand in until then.
  // With a cert-manager Issuer, cert-manager makes them in the cluster: none is made here.
  const own =
    fleetTls && discovered && (grpcTls || httpTls) && !issuerCa
      ? await loadKubeLeaves(topology, opts.stateDir, tlsOpts, discovered, {
          cert: fleetTls.grpc.ca,
          key: fleetTls.caKey,
        })
      : undefined;
  await own?.save();
  const fleet = renderFleet(topology, {
    ...tlsOpts,
    discovered,
    outDir: opts.out,
    ...(own ? { serverLeaves: own.leaves } : {}),
    ...(issuerCa ? { issuerCa } : {}),
  });
  const files = fleetFiles(topology, fleet, opts.out);
  for (const f of files) {
    try {
      await writeAtomically(join(opts.out, f.path), f.content, f.mode);
    } catch (cause) {
      throw new Error(`cannot write ${join(opts.out, f.path)}; check that --out is a writable directory`, {
        cause,
      });
    }
  }

  const lines = [`rendered ${fleet.clusters.length} clusters into ${opts.out}:`];
  for (const rc of fleet.clusters) {
    const mine = files.filter((f) => f.path.startsWith(`${rc.cluster}/`));
    const names = mine.map((f) => {
      const name = f.path.slice(rc.cluster.length + 1);
      if (name === FILES.secrets)
        return `${name} (${rc.secrets.length} Secret${rc.secrets.length === 1 ? "" : "s"}, credentials, mode 0600)`;
      if (name === FILES.manifests) return `${name} (${rc.manifests.length - 1} objects)`;
      return name;
    });
    lines.push(`  ${rc.cluster}/ (${rc.role}, context ${rc.context}): ${names.join(", ")}`);
  }
  lines.push(`  ${FILES.plan}: ${fleet.plan.length} steps, with the commands to run them by hand`);
  lines.push(
    `credentials: ${join(opts.stateDir, CREDENTIALS_FILE)} (mode 0600); keep ${opts.out} private, its secrets.yaml files hold them`,
  );
  if (fleet.openAddresses.length > 0) {
    lines.push(
      `node addresses are placeholders (${fleet.openAddresses.map((o) => placeholder(o.variable)).join(" ")}): ` +
        `'thanos-fleet up' discovers them, or see "Addresses still to fill in" in ${join(opts.out, FILES.plan)}`,
    );
  } else {
    lines.push(`node addresses: as discovered by 'thanos-fleet up' (${join(opts.stateDir, ADDRESSES_FILE)})`);
  }
  const known = new Set([...fleet.clusters.map((c) => c.cluster), FILES.plan]);
  const stale = (await readdir(opts.out)).filter((name) => !known.has(name)).sort();
  if (stale.length > 0) {
    lines.push(
      `not part of this fleet, left from an earlier render: ${stale.map((n) => join(opts.out, n)).join(", ")}`,
    );
  }
  stdout.write(`${lines.join("\n")}\n`);
  return files;
}
