import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { makeTestCa } from "../../testing/test-ca.ts";
import { writeDiscoveredAddresses } from "../render/addresses.ts";
import { FOUR_WORKLOADS_FILE, fourWorkloadsTopology, kindAddresses } from "../render/testdata/fixtures.ts";

const dir = await mkdtemp(join(tmpdir(), "thanos-fleet-render-"));
after(() => rm(dir, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, "..", "cli.ts");

function cli(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], { encoding: "utf8" });
}

async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split("\\").join("/"))
    .sort();
}

function expected(clusters: { name: string; role: string }[]): string[] {
  return [
    "PLAN.md",
    ...clusters.flatMap((c) => [
      `${c.name}/kind.yaml`,
      `${c.name}/manifests.yaml`,
      `${c.name}/namespace.yaml`,
      `${c.name}/secrets.yaml`,
      ...(c.role === "workload" ? [`${c.name}/values-kube-prometheus-stack.yaml`] : []),
    ]),
  ].sort();
}

const DEFAULT_CLUSTERS = [
  { name: "mgmt", role: "observer" },
  { name: "biz1", role: "workload" },
  { name: "biz2", role: "workload" },
  { name: "minio", role: "storage" },
];

describe("thanos-fleet render", () => {
  for (const [name, config, clusters] of [
    ["default fleet", undefined, DEFAULT_CLUSTERS],
    ["four workload clusters", FOUR_WORKLOADS_FILE, fourWorkloadsTopology().fleet.clusters],
  ] as const) {
    test(`${name}: writes a complete set, credentials kept private, and the same set again on a second run`, async () => {
      const out = join(dir, name.replaceAll(" ", "-"), "out");
      const state = join(dir, name.replaceAll(" ", "-"), "state");
      const args = ["render", ...(config ? ["-c", config] : []), "--out", out, "--state-dir", state];
      const first = cli(...args);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, "");
      assert.match(first.stdout, new RegExp(`^rendered ${clusters.length} clusters into ${out}:`));
      for (const c of clusters)
        assert.match(first.stdout, new RegExp(`\\n  ${c.name}/ \\(${c.role}, context kind-${c.name}\\)`));
      assert.match(first.stdout, /secrets\.yaml \(\d+ Secrets?, credentials, mode 0600\)/);
      assert.match(first.stdout, /node addresses are placeholders/);

      const written = await files(out);
      assert.deepEqual(written, expected(clusters));
      for (const f of written.filter((p) => p.endsWith(".yaml"))) {
        const docs = parseAllDocuments(await readFile(join(out, f), "utf8"));
        for (const doc of Array.isArray(docs) ? docs : [docs]) assert.deepEqual(doc.errors, [], f);
        const mode = (await stat(join(out, f))).mode & 0o777;
        assert.equal(mode, f.endsWith("/secrets.yaml") ? 0o600 : 0o644, `${f}: mode ${mode.toString(8)}`);
      }
      assert.equal((await stat(state)).mode & 0o777, 0o700);
      assert.equal((await stat(join(state, "credentials.yaml"))).mode & 0o777, 0o600);

      const before = await Promise.all(written.map((f) => readFile(join(out, f), "utf8")));
      const second = cli(...args);
      assert.equal(second.status, 0, second.stderr);
      const again = await Promise.all(written.map((f) => readFile(join(out, f), "utf8")));
      assert.deepEqual(again, before, "a second render changed the output (credentials must be reused)");
    });
  }

  test("after up has discovered the node addresses, render writes them in and leaves no placeholder", async () => {
    const out = join(dir, "discovered", "out");
    const state = join(dir, "discovered", "state");
    await writeDiscoveredAddresses(state, kindAddresses(fourWorkloadsTopology()));
    const r = cli("render", "-c", FOUR_WORKLOADS_FILE, "--out", out, "--state-dir", state);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /node addresses: as discovered by 'thanos-fleet up'/);
    for (const f of await files(out)) {
      const text = await readFile(join(out, f), "utf8");
      assert.ok(!text.includes("${"), `${f} still has a placeholder`);
    }
    const endpoints = await readFile(join(out, "mgmt", "manifests.yaml"), "utf8");
    assert.match(endpoints, /- address: 172\.18\.0\.6:31002\n/);
  });

  test("a second render of a smaller fleet into the same directory names what is left over", () => {
    const out = join(dir, "shrink", "out");
    const state = join(dir, "shrink", "state");
    assert.equal(cli("render", "-c", FOUR_WORKLOADS_FILE, "--out", out, "--state-dir", state).status, 0);
    const r = cli("render", "--out", out, "--state-dir", state);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`left from an earlier render: ${join(out, "biz3")}, ${join(out, "biz4")}\n$`),
    );
  });

  test("an --out that cannot be a directory is a clear error, exit 1", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const r = cli("render", "--out", join(file, "out"), "--state-dir", join(dir, "unwritable-state"));
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^error: cannot write \S+\/a-file\/out\/\S+; check that --out is a writable directory\n {2}caused by: ENOTDIR/,
    );
  });
});

describe("thanos-fleet render with a cert-manager Issuer", () => {
  test("writes each cluster's Certificates, no server certificate; a CA file that is not a CA stops it, exit 2", async () => {
    const base = join(dir, "issuer");
    await mkdir(base, { recursive: true });
    const openssl = (...args: string[]) => spawnSync("openssl", args, { cwd: base, encoding: "utf8" });
    makeTestCa(base, { certFile: "ca.pem", subject: "/CN=Org CA", days: 30 });
    openssl(
      "req",
      "-x509",
      "-key",
      "ca.key",
      "-subj",
      "/CN=leaf",
      "-days",
      "30",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-out",
      "leaf.pem",
    );
    const fleet = (ca: string) =>
      `tls:\n  issuer:\n    name: fleet-ca\n    ca: ${ca}\nclusters:\n  - {name: mgmt, role: observer}\n  - {name: biz1, role: workload}\n  - {name: minio, role: storage}\n`;
    await writeFile(join(base, "fleet.yaml"), fleet("ca.pem"));
    await writeFile(join(base, "bad.yaml"), fleet("leaf.pem"));

    const bad = cli(
      "render",
      "-c",
      join(base, "bad.yaml"),
      "--out",
      join(base, "bad-out"),
      "--state-dir",
      join(base, "bad-state"),
    );
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /bad\.yaml:4: tls\.issuer\.ca/s);
    assert.match(bad.stderr, /leaf\.pem \(CN=leaf\) is not a CA certificate/);
    assert.equal(existsSync(join(base, "bad-out")), false, "nothing written");
    assert.equal(existsSync(join(base, "bad-state")), false, "no state dir made");

    const out = join(base, "out");
    const good = cli(
      "render",
      "-c",
      join(base, "fleet.yaml"),
      "--out",
      out,
      "--state-dir",
      join(base, "state"),
    );
    assert.equal(good.status, 0, good.stderr);
    const written = await files(out);
    assert.deepEqual(
      written.filter((f) => f.endsWith("certificates.yaml")),
      ["biz1/certificates.yaml", "mgmt/certificates.yaml", "minio/certificates.yaml"],
    );
    const all = (await Promise.all(written.map((f) => readFile(join(out, f), "utf8")))).join("\n");
    const certs = written.filter((f) => f.endsWith("certificates.yaml"));
    for (const f of certs) assert.doesNotMatch(await readFile(join(out, f), "utf8"), /BEGIN/, f);
    // cert-manager writes the servers' Secrets: none is rendered (the client certificates are still ours).
    for (const f of written.filter((x) => x.endsWith("secrets.yaml"))) {
      const text = await readFile(join(out, f), "utf8");
      assert.doesNotMatch(text, /\n {2}name: (thanos-query|thanos-store|seaweedfs|alertmanager)-tls\n/, f);
    }
    assert.match(
      await readFile(join(out, "PLAN.md"), "utf8"),
      /wait --for=condition=Ready certificate --all/,
    );
    const ca = await readFile(join(base, "ca.pem"), "utf8");
    assert.ok(all.includes(ca.trim().split("\n")[1] ?? "x"), "the issuer's CA is in the trust bundle");
  });
});

describe("thanos-fleet plan", () => {
  test("prints the numbered steps with their commands, and creates nothing", () => {
    const state = join(dir, "plan-state");
    const r = cli("plan", "-c", FOUR_WORKLOADS_FILE, "--state-dir", state);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+ steps for \S+four-workloads\.yaml \(mgmt: observer, biz1: workload/);
    assert.match(r.stdout, /\n1\. Render the artifacts\n/);
    assert.match(
      r.stdout,
      /\$ kind get clusters \| grep -qx biz4 \|\| kind create cluster --name biz4 --config fleet-rendered\/biz4\/kind\.yaml/,
    );
    assert.match(
      r.stdout,
      /\$ envsubst "\$FLEET_ADDRESS_VARS" < fleet-rendered\/biz3\/values-kube-prometheus-stack\.yaml \| helm upgrade --install/,
    );
    assert.doesNotMatch(r.stdout, /plan:plan|-u "?plan\b/, "the stand-in credentials leaked into the plan");
    assert.equal(existsSync(state), false, "plan created the state dir");
  });
});
