import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { test } from "node:test";
import { tempDir } from "../../testing/tempdir.ts";
import { writeDiscoveredAddresses } from "../render/addresses.ts";
import { defaultTopology, issuerTopology } from "../render/testdata/fixtures.ts";
import { parseFleetYaml } from "../topology/load.ts";
import { listImages } from "./images.ts";
import { planCommand } from "./plan.ts";
import { renderCommand } from "./render.ts";

const quiet = () => new Writable({ write: (_chunk, _enc, done) => done() });

const topology = parseFleetYaml(
  "tls:\n  grpc: true\nclusters:\n  - name: mgmt\n    role: observer\n  - name: biz1\n    role: workload\n  - name: minio\n    role: storage\n",
  "fleet.yaml",
);

test("render with tls.grpc makes the fleet's certificates once and puts the keys only in secrets.yaml", async () => {
  const stateDir = await tempDir("thanos-fleet-tls-");
  const out = join(stateDir, "out");
  await renderCommand(topology, { out, stateDir, stdout: quiet() });
  const key = await readFile(join(stateDir, "tls", "grpc-server.key"), "utf8");
  const body = key.split("\n")[1] ?? "";
  assert.ok(body.length > 20, "a PEM body");
  assert.match(
    await readFile(join(out, "biz1", "secrets.yaml"), "utf8"),
    /prometheus-kube-prometheus-stack-prometheus-tls/,
  );
  const values = await readFile(join(out, "biz1", "values-kube-prometheus-stack.yaml"), "utf8");
  assert.match(values, /grpcServerTlsConfig/);
  for (const file of ["values-kube-prometheus-stack.yaml", "manifests.yaml"]) {
    assert.doesNotMatch(await readFile(join(out, "biz1", file), "utf8"), new RegExp(body.slice(0, 20)));
  }
  await renderCommand(topology, { out, stateDir, stdout: quiet() });
  assert.equal(
    await readFile(join(stateDir, "tls", "grpc-server.key"), "utf8"),
    key,
    "reused, not made anew",
  );
});

test("render after up found the addresses: each server's own certificate, for its node address, in its Secret", async () => {
  const stateDir = await tempDir("thanos-fleet-tls-own-");
  const out = join(stateDir, "out");
  await writeDiscoveredAddresses(stateDir, {
    nodeIP: { mgmt: "172.18.0.2", biz1: "172.18.0.3", minio: "172.18.0.4" },
  });
  await renderCommand(topology, { out, stateDir, stdout: quiet() });
  const pem = await readFile(join(stateDir, "tls", "servers", "kube@mgmt.thanos-query-frontend.crt"), "utf8");
  const cert = new X509Certificate(pem);
  assert.match(cert.subjectAltName ?? "", /IP Address:172\.18\.0\.2/);
  assert.match(cert.subjectAltName ?? "", /DNS:thanos-query-frontend\.monitoring\.svc\.cluster\.local/);
  const secrets = await readFile(join(out, "mgmt", "secrets.yaml"), "utf8");
  assert.match(secrets, /name: thanos-query-frontend-tls/);
  assert.ok(secrets.includes(pem.split("\n")[1] ?? "-"), "the Secret holds that certificate");
  const manifests = await readFile(join(out, "mgmt", "manifests.yaml"), "utf8");
  assert.doesNotMatch(manifests, /server_name: thanos-fleet-(http|grpc)/, "no client pins the shared names");
});

test("plan with tls.grpc creates no certificate", async () => {
  const stateDir = await tempDir("thanos-fleet-tls-plan-");
  await planCommand(topology, { stateDir, stdout: quiet() });
  assert.equal(existsSync(join(stateDir, "tls")), false);
});

test("plan and images with tls.issuer need no CA file: they render the fleet's shape, with its Certificates", async () => {
  const topology = issuerTopology();
  const stateDir = await tempDir("tls-issuer-plan-");
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk) => {
    text += String(chunk);
  });
  await planCommand(topology, { stateDir, stdout: out });
  assert.match(text, /Certificate/);
  const images = listImages(topology).map((i) => i.image);
  assert.deepEqual(
    images,
    listImages(defaultTopology()).map((i) => i.image),
  );
});
