import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandLine, ExecError, outputTail, realExec } from "./exec.ts";

const node = process.execPath;

describe("realExec runs real processes", () => {
  it("captures stdout and stderr, feeds stdin, adds to the environment", async () => {
    const script =
      "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{process.stdout.write(s.toUpperCase()+process.env.FLEET_TEST);process.stderr.write('note')})";
    const { stdout, stderr } = await realExec.run(node, ["-e", script], {
      input: "kind",
      env: { FLEET_TEST: "!" },
    });
    assert.equal(stdout, "KIND!");
    assert.equal(stderr, "note");
  });

  it("streams each line as it comes, the last one even without a newline", async () => {
    const lines: string[] = [];
    await realExec.run(node, ["-e", "console.log('a\\nb');console.error('c');process.stdout.write('d')"], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    assert.deepEqual(lines.sort(), ["stderr:c", "stdout:a", "stdout:b", "stdout:d"]);
  });

  it("a non-zero exit names the command line and shows the tail of its output", async () => {
    const script = "for (let i = 1; i <= 30; i++) console.error('line ' + i); process.exit(3)";
    const error = await realExec.run(node, ["-e", script]).then(
      () => assert.fail("must fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ExecError);
    assert.equal(error.exitCode, 3);
    assert.equal(error.command, commandLine(node, ["-e", script]));
    const [head, ...tail] = error.message.split("\n");
    assert.equal(head, `'${commandLine(node, ["-e", script])}' exited with status 3:`);
    assert.equal(tail.length, 20, "the last 20 lines");
    assert.equal(tail[0], "    line 11");
    assert.equal(tail[19], "    line 30");
  });

  it("a program not on PATH says so, with the cause", async () => {
    const error = await realExec.run("thanos-fleet-no-such-tool", ["version"]).then(
      () => assert.fail("must fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ExecError);
    assert.equal(error.notFound, true);
    assert.equal(error.message, "'thanos-fleet-no-such-tool version' was not found on PATH");
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ENOENT");
  });

  it("stops the process when the signal aborts", async () => {
    const controller = new AbortController();
    const run = realExec.run(node, ["-e", "setTimeout(() => {}, 60000)"], { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      run,
      (e: Error) => e instanceof ExecError && (e.cause as Error).name === "AbortError",
    );
  });
});

describe("command lines and output tails", () => {
  it("quotes what a shell would split", () => {
    assert.equal(
      commandLine("docker", ["info", "--format", "{{json .}}"]),
      "docker info --format '{{json .}}'",
    );
    assert.equal(
      commandLine("helm", ["list", "--filter", "^kube-prometheus-stack$"]),
      "helm list --filter ^kube-prometheus-stack$",
    );
    assert.equal(commandLine("sh", ["-c", "echo 'hi'"]), `sh -c 'echo '\\''hi'\\'''`);
  });

  it("prefers stderr, falls back to stdout", () => {
    assert.equal(outputTail("out\n", "err\n"), "err");
    assert.equal(outputTail("1\n2\n3\n", "", 2), "2\n3");
  });
});
