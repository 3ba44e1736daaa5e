import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BINARY_NAMES, binariesFor, CATALOG, goBuildArgs, isBinaryName, toolModuleDir } from "./catalog.ts";

test("every catalog entry is keyed by its own name", () => {
  assert.deepEqual(Object.keys(CATALOG).sort(), [...BINARY_NAMES].sort());
  for (const name of BINARY_NAMES) assert.equal(CATALOG[name].name, name);
  assert.ok(isBinaryName("thanos"));
  assert.ok(!isBinaryName("mc"));
});

for (const name of BINARY_NAMES) {
  test(`${name}: its wrapper module requires the pinned module and imports the package`, () => {
    const s = CATALOG[name];
    const dir = toolModuleDir(s);
    const goMod = readFileSync(join(dir, "go.mod"), "utf8");
    const tools = readFileSync(join(dir, "tools.go"), "utf8");
    assert.match(goMod, new RegExp(`^require ${s.module} ${s.moduleVersion.replaceAll(".", "\\.")}$`, "m"));
    assert.ok(tools.includes(`_ "${s.pkg}"`), `tools.go imports ${s.pkg}`);
    assert.match(tools, /^\/\/go:build tools$/m);
    assert.ok(existsSync(join(dir, "go.sum")), "go.sum is committed");
  });
}

test("no wrapper module under tools/ requires AGPL code (MinIO server, madmin-go, Grafana)", () => {
  const agpl =
    /^\s*(require\s+)?(github\.com\/minio\/minio|github\.com\/minio\/madmin-go|github\.com\/grafana\/grafana)(\/v[0-9]+)?\s/m;
  const tools = toolModuleDir(CATALOG.thanos).replace(/thanos$/, "");
  const mods = readdirSync(tools, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(tools, d.name, "go.mod")))
    .map((d) => join(tools, d.name, "go.mod"));
  assert.ok(mods.length >= BINARY_NAMES.length - 1, `found ${mods.length} go.mod files under ${tools}`);
  for (const mod of mods) {
    const line = readFileSync(mod, "utf8").match(agpl)?.[0];
    assert.equal(line, undefined, `${mod} requires ${line?.trim()}`);
  }
  // The pattern itself: a require line of each is caught, minio-go (Apache-2.0) is not.
  assert.match("require github.com/minio/minio v0.0.0\n", agpl);
  assert.match("\tgithub.com/minio/madmin-go/v3 v3.0.109 // indirect\n", agpl);
  assert.match("\tgithub.com/grafana/grafana v1.9.2 // indirect\n", agpl);
  assert.doesNotMatch("\tgithub.com/minio/minio-go/v7 v7.0.93 // indirect\n", agpl);
});

test("version patterns accept the pinned version's output and reject another", () => {
  const cases: [keyof typeof CATALOG, string, string][] = [
    ["thanos", "thanos, version 0.42.4 (branch: v0.42.4, revision: unknown)", "thanos, version 0.42.5 (x)"],
    ["prometheus", "prometheus, version 3.14.0 (branch: v3.14.0)", "prometheus, version 3.14.1 (x)"],
    ["promtool", "promtool, version 3.14.0 (branch: v3.14.0)", "prometheus, version 3.14.0 (x)"],
    ["alertmanager", "alertmanager, version 0.34.2 (branch: x)", "alertmanager, version 0.34.20 (x)"],
    ["weed", "version 30GB 4.53 7506e5f91cd6 linux amd64\n", "version 30GB 4.53  linux amd64\n"],
    ["etcd", "etcd Version: 3.6.16\nGit SHA: GitNotFound\n", "etcd Version: 3.6.1\n"],
    ["kube-apiserver", "Kubernetes v1.36.3\n", "Kubernetes v0.0.0-master+$Format:%H$\n"],
  ];
  for (const [name, good, bad] of cases) {
    assert.match(good, CATALOG[name].versionPattern, name);
    assert.doesNotMatch(bad, CATALOG[name].versionPattern, name);
  }
});

test("go build arguments carry trimpath, stripped ldflags, tags and the package", () => {
  const args = goBuildArgs(CATALOG.prometheus, "/tmp/out");
  assert.deepEqual(args.slice(0, 2), ["build", "-trimpath"]);
  const ldflags = args[args.indexOf("-ldflags") + 1] ?? "";
  assert.match(ldflags, /^-s -w -X github\.com\/prometheus\/common\/version\.Version=3\.14\.0 /);
  assert.equal(args[args.indexOf("-o") + 1], "/tmp/out");
  assert.equal(args[args.indexOf("-tags") + 1], "netgo,remove_all_sd");
  assert.equal(args.at(-1), "github.com/prometheus/prometheus/cmd/prometheus");
  assert.ok(!goBuildArgs(CATALOG.etcd, "/tmp/out").includes("-tags"));
});

test("npm run setup installs the fleet's binaries; npm test installs the tests' own before it runs them", () => {
  const root = join(import.meta.dirname, "..", "..");
  const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts as Record<
    string,
    string
  >;
  // Then the cert-manager runner its envtests use (built like kind:host's programs; without it they skip).
  assert.match(
    scripts.pretest ?? "",
    /^npm run -s binaries -- --for tests && \(npm run -s kind:host -- --build certManager \|\| echo '[^']+'\)$/,
  );
  const setup = readFileSync(join(root, "scripts", "setup.sh"), "utf8");
  const installs = setup.split("\n").filter((l) => l.startsWith("npm run binaries"));
  assert.deepEqual(installs, ["npm run binaries -- --for fleet"]);
  assert.deepEqual(binariesFor("tests").sort(), ["etcd", "kube-apiserver", "promtool"]);
  assert.deepEqual(
    [...binariesFor("fleet"), ...binariesFor("tests")].sort(),
    [...BINARY_NAMES].sort(),
    "every binary is installed by one of them",
  );
});
