#!/usr/bin/env node
// The thin command layer: parses flags and calls the library; every verb lives in its own module.
import { setMaxListeners } from "node:events";
import { constants } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { runtimeFor, runtimeNames } from "./runtimes/index.ts";
import type { KubeRuntime } from "./runtimes/kube/index.ts";
import type { Runtime } from "./runtimes/runtime.ts";
import { checkStateDir, defaultStateDir } from "./state/dir.ts";
import { chooseRuntime } from "./state/runtime.ts";
import { ConfigError } from "./topology/errors.ts";
import { loadTopology } from "./topology/load.ts";

const program = new Command("thanos-fleet")
  .description("Multi-cluster Thanos HA in one command: build the fleet, wire every address, prove it works.")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

// Every verb with a state dir refuses one that others may read or write before it reads or writes anything there.
program.hook("preAction", async (_program, action) => {
  const { stateDir } = action.opts() as { stateDir?: string };
  if (stateDir !== undefined) await checkStateDir(stateDir);
});

const configOption = () =>
  new Option("-c, --config <file>", "fleet.yaml (default: the built-in four-cluster fleet)");
const stateOption = () =>
  new Option("--state-dir <dir>", "where credentials and runtime state live").default(defaultStateDir());
const runtimeOption = () =>
  new Option(
    "-r, --runtime <runtime>",
    "where the fleet runs (default: the runtime the state dir's last 'up' used, which it must match; else kubernetes)",
  ).choices(runtimeNames);

/** The runtime a verb acts on: the one the state dir records (a contradicting --runtime is refused), else --runtime, else Kubernetes. */
/** The runtimes this process chose: main closes what they hold open once the command is done. */
const chosen: Runtime[] = [];

async function chosenRuntime(opts: { runtime?: string; stateDir: string }) {
  const runtime = await runtimeFor(await chooseRuntime(opts.runtime, opts.stateDir));
  chosen.push(runtime);
  return runtime;
}

program
  .command("init")
  .description("write a commented default fleet.yaml")
  .option("-o, --out <file>", "where to write it", "fleet.yaml")
  .option("-f, --force", "overwrite an existing file")
  .action(async (opts) => {
    const { initCommand } = await import("./commands/init.ts");
    await initCommand(opts.out, { force: Boolean(opts.force) });
  });

program
  .command("render")
  .description(
    "write every artifact the Kubernetes runtime applies (kind configs, Helm values, manifests, PLAN.md)",
  )
  .addOption(configOption())
  .addOption(stateOption())
  .requiredOption("-o, --out <dir>", "output directory")
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const { renderCommand } = await import("./commands/render.ts");
    await renderCommand(topology, { out: opts.out, stateDir: opts.stateDir });
  });

program
  .command("plan")
  .description("print the ordered steps for the current config, with the commands a person could run")
  .addOption(configOption())
  .addOption(stateOption())
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const { planCommand } = await import("./commands/plan.ts");
    await planCommand(topology, { stateDir: opts.stateDir });
  });

const images = program
  .command("images")
  .description("list every image the fleet runs, with the clusters and components that run it")
  .addOption(configOption())
  .option("--json", "machine-readable")
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const { imagesCommand } = await import("./commands/images.ts");
    imagesCommand(topology, { json: Boolean(opts.json) });
  });

images
  .command("save")
  .description("write every image the fleet's nodes run into FILE (docker save), for 'up --images FILE'")
  .argument("<file>", "the archive to write")
  .addOption(configOption())
  .action(async (file: string, opts) => {
    const topology = await loadTopology(opts.config ?? images.opts().config);
    const { imagesSaveCommand } = await import("./commands/images.ts");
    await withSignal((signal) => imagesSaveCommand(topology, file, { signal }));
  });

/** The signal that interrupted a command; the process then exits 128 + its number, as shells expect. */
let interruptedBy: NodeJS.Signals | undefined;

function withSignal<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // Every in-flight request of a long verify or up listens on the one signal.
  setMaxListeners(0, controller.signal);
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy = signal;
    process.stderr.write("\ninterrupted: stopping what was started …\n");
    controller.abort(new Error("interrupted"));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return fn(controller.signal).finally(() => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
}

program
  .command("up")
  .description("create (or reuse) the fleet, wire it and verify it")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("-v, --verbose", "stream the output of every tool run")
  .option("--no-verify", "skip the verify that ends up")
  .option("--images <file>", "an image archive ('images save') to load into the kind nodes first")
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const runtime = await chosenRuntime(opts);
    const { upCommand } = await import("./commands/up.ts");
    await withSignal((signal) =>
      upCommand(runtime, topology, {
        stateDir: opts.stateDir,
        verbose: Boolean(opts.verbose),
        signal,
        verify: opts.verify !== false,
        ...(opts.images ? { images: opts.images } : {}),
      }),
    );
  });

program
  .command("down")
  .description("stop or delete what up created, and nothing else")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("--purge", "also delete data and state")
  .option(
    "--wait <duration>",
    "on existing Kubernetes clusters: how long to wait until what down deleted is gone (default 5m)",
  )
  .option("-v, --verbose", "stream the output of every tool run")
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const runtime = await chosenRuntime(opts);
    const { downCommand } = await import("./commands/down.ts");
    await withSignal((signal) =>
      downCommand(runtime, topology, {
        stateDir: opts.stateDir,
        verbose: Boolean(opts.verbose),
        signal,
        purge: Boolean(opts.purge),
        ...(opts.wait === undefined ? {} : { wait: opts.wait }),
      }),
    );
  });

program
  .command("status")
  .description("each process or pod: cluster, component, address, ready or not")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("--json", "machine-readable, with every endpoint URL")
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const runtime = await chosenRuntime(opts);
    const { statusCommand } = await import("./commands/status.ts");
    process.exitCode = await statusCommand(runtime, topology, {
      stateDir: opts.stateDir,
      json: Boolean(opts.json),
    });
  });

program
  .command("certs")
  .description(
    "every certificate of the fleet: subject, addresses, who uses it, expiry; 'certs rotate' renews every server's with no gap",
  )
  .argument("[action]", "rotate: renew every server's certificate and hand it to the running fleet")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("--json", "machine-readable")
  .action(async (action: string | undefined, opts) => {
    const { certsCommand, certsRotateCommand } = await import("./commands/certs.ts");
    const common = { stateDir: opts.stateDir, json: Boolean(opts.json) };
    if (action === undefined) {
      // With a cert-manager Issuer, the servers' certificates are in the clusters, not the state dir.
      const topology = await loadTopology(opts.config);
      const runtime = topology.fleet.tls.issuer ? await chosenRuntime(opts) : undefined;
      const issued =
        runtime?.name === "kubernetes"
          ? await (runtime as KubeRuntime).issuedCertificates(topology, { stateDir: opts.stateDir })
          : undefined;
      process.exitCode = await certsCommand({ ...common, ...(issued ? { issued } : {}) });
      return;
    }
    if (action !== "rotate") {
      throw Object.assign(new Error(`certs: unknown action '${action}'; the one action is 'rotate'`), {
        exitCode: 2,
      });
    }
    const topology = await loadTopology(opts.config);
    process.exitCode = await certsRotateCommand(await chosenRuntime(opts), topology, common);
  });

program
  .command("verify")
  .description("check every promise of the fleet against the running components' own APIs")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("--json", "machine-readable result")
  .option("--wait <duration>", "poll until green or this deadline, e.g. 5m")
  .option(
    "--skip <check...>",
    "leave these checks out (e.g. exposure storage-doors on a fleet open on purpose)",
  )
  .action(async (opts) => {
    const topology = await loadTopology(opts.config);
    const runtime = await chosenRuntime(opts);
    const { verifyCommand } = await import("./commands/verify.ts");
    process.exitCode = await verifyCommand(runtime, topology, {
      stateDir: opts.stateDir,
      json: Boolean(opts.json),
      wait: opts.wait,
      ...(opts.skip ? { skip: opts.skip } : {}),
    });
  });

program
  .command("doctor")
  .description(
    "find the known Thanos misconfigurations in any installation, reading only (also one thanos-fleet did not make)",
  )
  .requiredOption("--query <url>", "HTTP address of Thanos query (or query-frontend)")
  .option("--bucket <objstore.yml>", "Thanos's objstore.yml of the bucket (S3) to read blocks from")
  .option("--metrics <url...>", "HTTP addresses of other components (sidecars, store, compactor, …) to read")
  .option(
    "--context <kubecontext...>",
    "kube contexts whose Deployments and StatefulSets to read (KUBECONFIG or ~/.kube/config)",
  )
  .option("--ca-file <file>", "CA that signed the servers' certificates")
  .option("--cert-file <file>", "client certificate, for servers that ask for one")
  .option("--key-file <file>", "the client certificate's key")
  .option("--basic-auth-file <file>", "a file holding user:password")
  .option("--bearer-token-file <file>", "a file holding a bearer token")
  .option(
    "--state-dir <dir>",
    "a thanos-fleet state dir: use that fleet's client certificate, bucket key and components",
  )
  .option(
    "--watch <duration>",
    "how long to watch query's StoreAPI endpoints for flapping (read every second); 0s reads them once",
    "5s",
  )
  .addOption(configOption())
  .addOption(runtimeOption())
  .option("--json", "machine-readable result")
  .action(async (opts) => {
    const { doctorCommand } = await import("./commands/doctor.ts");
    const stateDir: string | undefined = opts.stateDir;
    const fleet = stateDir
      ? async () => {
          const topology = await loadTopology(opts.config);
          const runtime = await chosenRuntime({ runtime: opts.runtime, stateDir });
          return runtime.endpoints(topology, { stateDir });
        }
      : undefined;
    process.exitCode = await doctorCommand(
      {
        query: opts.query,
        bucket: opts.bucket,
        metrics: opts.metrics,
        context: opts.context,
        json: Boolean(opts.json),
        caFile: opts.caFile,
        certFile: opts.certFile,
        keyFile: opts.keyFile,
        basicAuthFile: opts.basicAuthFile,
        bearerTokenFile: opts.bearerTokenFile,
        watch: opts.watch,
      },
      fleet ? { fleet } : {},
    );
  });

program
  .command("drill")
  .description("break one thing at a time on the running fleet and prove each failure is survived")
  .argument("[scenario...]", "scenarios to run (default: all)")
  .addOption(configOption())
  .addOption(stateOption())
  .addOption(runtimeOption())
  .option("--json", "machine-readable result")
  .action(async (chosen: string[], opts) => {
    const topology = await loadTopology(opts.config);
    const runtime = await chosenRuntime(opts);
    const { drillCommand } = await import("./commands/drill.ts");
    process.exitCode = await withSignal((signal) =>
      drillCommand(runtime, topology, {
        stateDir: opts.stateDir,
        json: Boolean(opts.json),
        scenarios: chosen,
        signal,
      }),
    );
  });

// The local fleet's supervisor, started detached by `up --runtime local`; not for people to run.
program
  .command("supervise", { hidden: true })
  .addOption(stateOption())
  .option("--after-up", "started by up before the fleet: watch nothing until up marks the fleet complete")
  .action(async (opts) => {
    const { superviseCommand } = await import("./runtimes/local/supervise.ts");
    await superviseCommand(opts.stateDir, { afterUp: Boolean(opts.afterUp) });
  });

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return interruptedBy ? interruptedExit(interruptedBy) : Number(process.exitCode ?? 0);
  } catch (error) {
    if (interruptedBy) {
      process.stderr.write(`${describe(error)}\n`);
      return interruptedExit(interruptedBy);
    }
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.exitCode === 0
        ? 0
        : 2;
    }
    // Errors a user can fix from the message alone carry exit code 2: no stack trace.
    if (error instanceof ConfigError || (error as { exitCode?: number }).exitCode === 2) {
      process.stderr.write(`${(error as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${describe(error)}\n`);
    return 1;
  } finally {
    // A Kubernetes runtime's port-forwards hold connections open: without this the process would outlive its command.
    await Promise.all(chosen.map((r) => r.close?.()));
  }
}

function interruptedExit(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** The error and its causes, one per line; the stack only with THANOS_FLEET_DEBUG. */
function describe(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error; e; e = (e as Error).cause) {
    lines.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  if (process.env.THANOS_FLEET_DEBUG && error instanceof Error) lines.push(error.stack ?? "");
  return lines.join("\n  caused by: ");
}

process.exitCode = await main(process.argv);
