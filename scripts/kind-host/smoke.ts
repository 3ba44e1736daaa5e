// One real cluster from the node image and the project's own rendered kind config: nodes Ready, a pod running on
// an image loaded with `kind load`, then deleted. Each phase is timed.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { rejectRuleInPlace } from "./egress.ts";
import { NODE_IMAGE } from "./nodeimage.ts";
import { step } from "./progress.ts";
import { run } from "./run.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLUSTER = "kind-host-smoke";

export interface SmokeOptions {
  kind: string;
  kubectl: string;
  /** A fleet image to load into the nodes and run. */
  image: string;
  /** Arguments that make the image print something and exit 0. */
  imageArgs: string[];
}

async function cli(args: string[]): Promise<string> {
  return run(process.execPath, ["--import", "tsx", join(REPO, "src/cli.ts"), ...args], { cwd: REPO });
}

/** The workload cluster's kind config as `render` writes it for a fleet that names the local node image. */
async function renderedKindConfig(dir: string): Promise<string> {
  const fleet = join(dir, "fleet.yaml");
  await cli(["init", "--out", fleet]);
  const doc = parseDocument(await readFile(fleet, "utf8"));
  doc.setIn(["versions", "kindNodeImage"], NODE_IMAGE);
  await writeFile(fleet, doc.toString());
  await cli(["render", "-c", fleet, "--state-dir", join(dir, "state"), "--out", join(dir, "rendered")]);
  const clusters = (doc.getIn(["clusters"]) as { items: { get(k: string): unknown }[] }).items;
  const workload = clusters.find((c) => c.get("role") === "workload") ?? clusters[0];
  return join(dir, "rendered", String(workload?.get("name")), "kind.yaml");
}

export async function smokeTest(o: SmokeOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kind-host-smoke-"));
  const kubeconfig = join(dir, "kubeconfig");
  const kubectl = (...args: string[]) => run(o.kubectl, ["--kubeconfig", kubeconfig, ...args]);
  try {
    await step("smoke: reject rule in place before any cluster starts", async () => {
      if (!(await rejectRuleInPlace()))
        throw new Error("DOCKER-USER has no reject rule for the default-route interface");
      return undefined;
    });
    let config = "";
    await step("smoke: render the fleet's kind config with the local node image", async () => {
      config = await renderedKindConfig(dir);
      return undefined;
    });
    await run(o.kind, ["delete", "cluster", "--name", CLUSTER]).catch(() => undefined);
    await step(`smoke: kind create cluster (${config.split("/").slice(-2).join("/")})`, async () => {
      await run(o.kind, [
        "create",
        "cluster",
        "--name",
        CLUSTER,
        "--config",
        config,
        "--kubeconfig",
        kubeconfig,
        "--wait",
        "5m",
      ]);
      return undefined;
    });
    await step("smoke: nodes Ready", async () => {
      await kubectl("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=180s");
      return undefined;
    });
    await step("smoke: coredns and the CNI running", async () => {
      await kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s");
      await kubectl("-n", "kube-system", "rollout", "status", "daemonset/kindnet", "--timeout=180s");
      return undefined;
    });
    await step(`smoke: kind load docker-image ${o.image}`, async () => {
      await run(o.kind, ["load", "docker-image", "--name", CLUSTER, o.image]);
      return undefined;
    });
    await step("smoke: a pod runs the loaded image", async () => {
      await kubectl(
        "run",
        "smoke",
        `--image=${o.image}`,
        "--image-pull-policy=Never",
        "--restart=Never",
        "--",
        ...o.imageArgs,
      );
      await kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/smoke", "--timeout=180s");
      const out = await kubectl("logs", "smoke");
      console.log(`  pod output: ${out.trim().split("\n")[0]}`);
      return undefined;
    });
  } finally {
    await step("smoke: kind delete cluster", async () => {
      await run(o.kind, ["delete", "cluster", "--name", CLUSTER]);
      return undefined;
    });
    await rm(dir, { recursive: true, force: true });
  }
}
