import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "../../testing/tempdir.ts";
import { SCOPE_CHECK_BUCKET } from "../components/objstore.ts";
import { generateCredentials } from "../state/credentials.ts";
import { SETUP_SCRIPT } from "./minio.ts";

const run = promisify(execFile);

/**
 * mc as far as the setup script uses it, parsing its command line as mc's (urfave) parser does: an argument that
 * starts with "-" is a flag, and an unknown flag is an error. It keeps users, policies and attachments in a JSON
 * file, and logs its argv so the test can see what a process list would show.
 */
const FAKE_MC = `
const fs = require("node:fs");
const state = process.env.FAKE_MC_STATE;
const s = fs.existsSync(state) ? JSON.parse(fs.readFileSync(state, "utf8")) : { users: {}, attached: {}, log: [] };
const args = process.argv.slice(2);
s.log.push(args);
const save = () => fs.writeFileSync(state, JSON.stringify(s));
const die = (msg) => { save(); process.stderr.write("mc: <ERROR> " + msg + "\\n"); process.exit(1); };
const flags = { "--ignore-existing": false, "--user": true };
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a.startsWith("-")) {
    const name = a.split("=")[0];
    if (!(name in flags)) die("flag provided but not defined: " + a);
    if (flags[name] && !a.includes("=")) i++;
  } else positional.push(a);
}
const flag = (n) => { const i = args.findIndex((a) => a === n || a.startsWith(n + "=")); if (i < 0) return undefined; return args[i].includes("=") ? args[i].split("=").slice(1).join("=") : args[i + 1]; };
const stdin = () => { try { return fs.readFileSync(0, "utf8").split("\\n"); } catch { return []; } };
const words = positional[0] === "admin" ? 3 : positional[0] === "alias" ? 2 : 1;
const cmd = positional.slice(0, words).join(" ");
const rest = positional.slice(words);
switch (cmd) {
  case "alias set": {
    const [alias, url, user, pass] = rest.length >= 4 ? rest : [rest[0], rest[1], ...stdin()];
    if (user !== process.env.WANT_ROOT_USER || pass !== process.env.WANT_ROOT_PASSWORD) die("The Access Key Id you provided does not exist in our records.");
    break;
  }
  case "mb": break;
  case "admin policy create": break;
  case "admin user add": {
    const [alias, key, secret] = rest.length >= 3 ? rest : [rest[0], ...stdin()];
    if (!key || !secret) die("access key and secret key are required");
    s.users[key] = secret;
    break;
  }
  case "admin policy attach": {
    const user = flag("--user");
    if (!(user in s.users)) die("user not found");
    if (s.attached[user]) die("policy change is already in effect");
    s.attached[user] = rest[1];
    break;
  }
  case "admin user info": {
    const user = rest[1];
    if (!(user in s.users)) die("user not found");
    process.stdout.write("AccessKey: " + user + "\\nStatus: enabled\\nPolicyName: " + (s.attached[user] ?? "") + "\\n");
    break;
  }
  default: die("unknown command " + cmd);
}
save();
`;

/** Runs the setup script as the Job does, with only sh, sleep and mc: what the MinIO image (ubi-micro) is known to have. */
async function runSetup(dir: string, env: Record<string, string>) {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "mc"), `#!${process.execPath}\n${FAKE_MC}`);
  chmodSync(join(bin, "mc"), 0o755);
  try {
    symlinkSync("/bin/sleep", join(bin, "sleep"));
  } catch {}
  writeFileSync(join(dir, "setup.sh"), SETUP_SCRIPT);
  writeFileSync(join(dir, "policy.json"), "{}");
  const script = readFileSync(join(dir, "setup.sh"), "utf8").replaceAll(
    "/setup/policy.json",
    join(dir, "policy.json"),
  );
  writeFileSync(join(dir, "setup.sh"), script);
  return run("/bin/sh", [join(dir, "setup.sh")], {
    env: { PATH: bin, HOME: dir, FAKE_MC_STATE: join(dir, "mc.json"), ...env },
  });
}

interface McState {
  users: Record<string, string>;
  attached: Record<string, string>;
  log: string[][];
}

function readState(dir: string): McState {
  return JSON.parse(readFileSync(join(dir, "mc.json"), "utf8")) as McState;
}

describe("the MinIO setup Job's script", () => {
  const creds = {
    MINIO_URL: "http://minio.monitoring.svc:9000",
    BUCKET: "thanos",
    SCOPE_CHECK_BUCKET,
    POLICY: "thanos-fleet-thanos",
    // Credentials kept from an older fleet may start with "-": mc must not take them for flags.
    MINIO_ROOT_USER: "root-abc123",
    MINIO_ROOT_PASSWORD: "-Xq3k9fZ_abcdefghijklmnopqrstuv",
    THANOS_ACCESS_KEY: "thanos-AbCdEfGhIjKl",
    THANOS_SECRET_KEY: "-secret-starting-with-a-dash_0123456789",
  };
  const env = {
    ...creds,
    WANT_ROOT_USER: creds.MINIO_ROOT_USER,
    WANT_ROOT_PASSWORD: creds.MINIO_ROOT_PASSWORD,
  };

  test("sets up the bucket and Thanos's key with secrets that start with '-', and no secret in argv", async () => {
    const dir = await tempDir("thanos-fleet-setup-");
    const first = await runSetup(dir, env);
    assert.match(first.stdout, /bucket thanos is ready/);
    const state = readState(dir);
    assert.deepEqual(state.users, { [creds.THANOS_ACCESS_KEY]: creds.THANOS_SECRET_KEY });
    assert.deepEqual(state.attached, { [creds.THANOS_ACCESS_KEY]: creds.POLICY });
    for (const argv of state.log) {
      for (const secret of [creds.MINIO_ROOT_PASSWORD, creds.THANOS_SECRET_KEY]) {
        assert.ok(!argv.some((a) => a.includes(secret)), `a secret in mc's argv: ${argv.join(" ")}`);
      }
    }
  });

  test("a re-run finds the policy attached and succeeds, with nothing but sh, sleep and mc", async () => {
    const dir = await tempDir("thanos-fleet-setup-");
    await runSetup(dir, env);
    const again = await runSetup(dir, env);
    assert.match(again.stdout, /bucket thanos is ready/);
    assert.deepEqual(readState(dir).attached, { [creds.THANOS_ACCESS_KEY]: creds.POLICY });
  });

  test("a re-run whose policy is attached to another user fails with a message", async () => {
    {
      const dir = await tempDir("thanos-fleet-setup-");
      await runSetup(dir, env);
      const state = readState(dir);
      state.attached[creds.THANOS_ACCESS_KEY] = "other-policy";
      writeFileSync(join(dir, "mc.json"), JSON.stringify(state));
      await assert.rejects(runSetup(dir, env), (e: { stderr: string }) =>
        /cannot attach policy thanos-fleet-thanos to the Thanos key/.test(e.stderr),
      );
    }
  });
});

describe("generated credentials", () => {
  test("no secret starts with '-' (mc and other command-line parsers would take it for a flag), none holds '_' or '/'", () => {
    for (let i = 0; i < 2000; i++) {
      const c = generateCredentials();
      for (const s of [
        c.minioRoot.user,
        c.minioRoot.password,
        c.thanos.accessKey,
        c.thanos.secretKey,
        c.grafana.password,
      ]) {
        assert.match(s, /^[A-Za-z0-9][A-Za-z0-9-]*$/, s);
      }
      assert.ok(
        c.minioRoot.password.length >= 32 &&
          c.thanos.secretKey.length >= 40 &&
          c.grafana.password.length >= 24,
      );
    }
  });
});
