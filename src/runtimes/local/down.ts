// `down` on the local runtime: the supervisor first, then every recorded process, then a check that none of the
// fleet's addresses is left open; `--purge` also deletes data, logs and state, and the generated credentials.
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { describePurged, purgeSecrets } from "../../state/purge.ts";
import { forgetRuntime } from "../../state/runtime.ts";
import type { Topology } from "../../topology/topology.ts";
import { step } from "../../ui/reporter.ts";
import type { UpOptions } from "../runtime.ts";
import { type LocalRuntimeOptions, timeouts } from "./options.ts";
import { stillOpen } from "./ports.ts";
import { localRoot } from "./processes.ts";
import { readState, removeState, removeSupervisor, writeHolds } from "./state.ts";
import { supervisorRunning } from "./supervise.ts";
import { stopProcesses } from "./supervisor.ts";
import { requireLinux } from "./supported.ts";

export async function downLocal(
  _topology: Topology,
  opts: UpOptions & { purge: boolean },
  given: LocalRuntimeOptions = {},
): Promise<void> {
  requireLinux();
  const { stopGraceMs } = timeouts(given);
  const { reporter } = opts;
  const root = localRoot(opts.stateDir);
  // The supervisor first: it would start again what is being stopped.
  const supervisor = await supervisorRunning(root);
  if (supervisor) {
    await step(reporter, `stop the supervisor (pid ${supervisor.pid})`, () =>
      stopProcesses([{ ...supervisor, id: "supervisor" }], stopGraceMs),
    );
  }
  await removeSupervisor(root);
  await writeHolds(root, []);
  const state = await readState(root);
  if (!state) {
    reporter.info(`no local fleet is recorded in ${root}: nothing to stop`);
  } else {
    const result = await step(reporter, `stop the local fleet's ${state.processes.length} processes`, () =>
      stopProcesses(state.processes, stopGraceMs),
    );
    for (const r of result.gone) reporter.verbose(`${r.id} (pid ${r.pid}) had already exited`);
    for (const r of result.killed) reporter.verbose(`${r.id} (pid ${r.pid}) ignored SIGTERM and was killed`);
    await step(
      reporter,
      `check that none of its ${state.listen.length} addresses accepts connections`,
      async () => {
        // A big process is reported exited (a zombie leader) a moment before the kernel has torn it down and
        // closed its sockets: give that moment, not more.
        let open = await stillOpen(state.listen);
        for (const deadline = Date.now() + 10_000; open.length > 0 && Date.now() < deadline; ) {
          await sleep(250);
          open = await stillOpen(open);
        }
        if (open.length > 0) {
          throw new Error(
            `still accepting connections after every recorded process stopped: ${open.join(", ")}; ` +
              "another program listens there (see 'ss -ltnp')",
          );
        }
      },
    );
    await removeState(root);
  }
  if (opts.purge) {
    await step(reporter, `delete the local fleet's data, logs and state in ${root}`, () =>
      rm(root, { recursive: true, force: true }),
    );
    await forgetRuntime(opts.stateDir, "local");
    const purged = await purgeSecrets(opts.stateDir);
    if (purged.deleted.length > 0) reporter.info(describePurged(opts.stateDir, purged));
  }
}
