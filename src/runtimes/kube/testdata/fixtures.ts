// Fixed inputs for the Kubernetes runtime's tests: fake credentials, fleets, and a harness that runs the real runtime
// against the fake world, recording every call and every step line (durations left out) for the golden files.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CREDENTIALS_FILE, type Credentials } from "../../../state/credentials.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet, parseFleetYaml } from "../../../topology/load.ts";
import type { Topology } from "../../../topology/topology.ts";
import type { GrpcTls, HttpTls, S3Tls } from "../../../state/tls.ts";
import { FAKE_GRPC_TLS, FAKE_HTTP_TLS, FAKE_S3_TLS } from "../../../render/testdata/fixtures.ts";
import type { Reporter } from "../../runtime.ts";
import { type KubeDeps, realDeps } from "../run-context.ts";
import { createKubeRuntime, type KubeRuntime } from "../index.ts";
import { FakeWorld, nodeObject, type Recorder } from "../../../../testing/kube/fake-world.ts";
import { fakeClock } from "../wait.ts";
import { stringify } from "../../../yaml.ts";

export const TESTDATA = import.meta.dirname;
export const GOLDEN_DIR = join(TESTDATA, "golden");

export const FAKE_CREDENTIALS: Credentials = {
  minioRoot: { user: "fake-minio-root", password: "fake-minio-root-password" },
  thanos: { accessKey: "fake-thanos-access", secretKey: "fake-thanos-secret" },
  grafana: { user: "fake-grafana-admin", password: "fake-grafana-password" },
};

/** What render needs besides the topology, as the tests give it: the fake credentials and stand-in TLS material. */
export function fakeRenderOptions(topology: Topology): {
  credentials: Credentials;
  grpcTls?: GrpcTls;
  httpTls?: HttpTls;
  s3Tls?: S3Tls;
} {
  return {
    credentials: FAKE_CREDENTIALS,
    ...(topology.fleet.tls.grpc ? { grpcTls: FAKE_GRPC_TLS } : {}),
    ...(topology.fleet.tls.http ? { httpTls: FAKE_HTTP_TLS } : {}),
    ...(topology.storage && topology.fleet.tls.s3 ? { s3Tls: FAKE_S3_TLS } : {}),
  };
}

export function defaultTopology(): Topology {
  return parseFleet(DEFAULT_FLEET, DEFAULT_SOURCE);
}

/** A fleet file of testdata, parsed with its real path (credentialsFile is relative to it). */
export async function topologyOf(file: string): Promise<Topology> {
  const path = join(TESTDATA, file);
  return parseFleetYaml(await readFile(path, "utf8"), path);
}

/** Step lines and info lines into the same record as the calls, so a golden file reads as the run did. */
export function recordingReporter(recorder: Recorder): Reporter {
  return {
    step(title) {
      recorder.record(`## ${title}`);
      return (error) => {
        if (error) recorder.record(`!! ${error.message}`);
      };
    },
    info: (line) => {
      for (const l of line.split("\n")) recorder.record(`> ${l}`.trimEnd());
    },
    verbose: () => {},
  };
}

export interface Harness {
  world: FakeWorld;
  topology: Topology;
  stateDir: string;
  runtime: KubeRuntime;
  deps: KubeDeps;
  up(): Promise<void>;
  down(purge?: boolean): Promise<void>;
  cleanup(): Promise<void>;
}

/** The real runtime on the fake world, with fixed credentials in a fresh state dir. */
export async function harness(topology: Topology, world = new FakeWorld()): Promise<Harness> {
  const stateDir = await mkdtemp(join(tmpdir(), "thanos-fleet-kube-"));
  await writeFile(join(stateDir, CREDENTIALS_FILE), stringify(FAKE_CREDENTIALS), { mode: 0o600 });
  world.recorder.substitutions.push([stateDir, "$STATE"], [TESTDATA, "$TESTDATA"]);
  const deps = realDeps({
    exec: world.exec,
    api: world.api,
    clock: fakeClock(),
    platform: "linux",
    readSysctl: async (name) => world.sysctl[name],
  });
  const runtime = createKubeRuntime(deps);
  const reporter = recordingReporter(world.recorder);
  const signal = new AbortController().signal;
  return {
    world,
    topology,
    stateDir,
    runtime,
    deps,
    up: () => runtime.up(topology, { stateDir, reporter, signal, verbose: false }),
    down: (purge = false) => runtime.down(topology, { stateDir, reporter, signal, verbose: false, purge }),
    cleanup: async () => {
      await runtime.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** The existing clusters of existing.yaml and load-balancer.yaml, shaped as EKS nodes report themselves. */
export function addCloudClusters(world: FakeWorld, contexts: string[]): void {
  contexts.forEach((context, i) => {
    world.addExistingCluster(context, [
      nodeObject({
        name: `ip-10-0-${i}-21.ec2.internal`,
        internalIP: `10.0.${i}.21`,
        externalIP: `54.0.${i}.21`,
        providerID: `aws:///eu-west-1a/i-0${i}a`,
      }),
      nodeObject({ name: `ip-10-0-${i}-7.ec2.internal`, internalIP: `10.0.${i}.7`, providerID: `aws:///eu-west-1b/i-0${i}b` }),
    ]);
  });
}

/** Compares with a golden file; UPDATE_GOLDEN=1 writes it instead. */
export async function assertGolden(name: string, lines: string[]): Promise<void> {
  const file = join(GOLDEN_DIR, name);
  const text = `${lines.join("\n")}\n`;
  if (process.env.UPDATE_GOLDEN) {
    await writeFile(file, text);
    return;
  }
  let want: string;
  try {
    want = await readFile(file, "utf8");
  } catch {
    assert.fail(`golden file ${file} is missing; run with UPDATE_GOLDEN=1 to write it`);
  }
  assert.equal(text, want, `${name} differs from the golden file; review, then UPDATE_GOLDEN=1 to accept`);
}
