// With `tls.s3` (the default) the storage cluster serves S3 over HTTPS from the fleet CA: every objstore.yml verifies
// that CA, which is mounted where it names it in every container reading the bucket, the Prometheus sidecars
// included; SeaweedFS's own ports ask for its JWT keys and certificate. `tls.s3: false` is the guide's plain HTTP.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { DEFAULT_FLEET, parseFleet } from "../topology/load.ts";
import { S3_CA_MOUNT, S3_CA_SECRET } from "./addresses.ts";
import { renderFleet } from "./render.ts";
import {
  CREDENTIAL_STRINGS,
  defaultTopology,
  FAKE_S3_TLS,
  fakeRenderOptions,
  kindAddresses,
} from "./testdata/fixtures.ts";
import type { KubeObject } from "./types.ts";

type Obj = KubeObject & { stringData?: Record<string, string>; spec?: unknown };
interface PodTemplate {
  containers: {
    name: string;
    args?: string[];
    env?: { name: string; value?: string; valueFrom?: unknown }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}

function render(topology = defaultTopology()) {
  return renderFleet(topology, { ...fakeRenderOptions(topology), discovered: kindAddresses(topology) });
}

function objstoreOf(secrets: Obj[]): { config: Record<string, unknown> } | undefined {
  const s = secrets.find((o) => o.metadata.name === "thanos-objstore");
  return s?.stringData
    ? (parse(s.stringData["objstore.yml"] as string) as { config: Record<string, unknown> })
    : undefined;
}

function templates(objects: Obj[]): PodTemplate[] {
  return objects.flatMap((o) => {
    const spec = o.spec as { template?: { spec: PodTemplate } } | undefined;
    return spec?.template ? [spec.template.spec] : [];
  });
}

test("every objstore.yml verifies the fleet CA over HTTPS, and the CA is mounted where it says", () => {
  const fleet = render();
  for (const c of fleet.clusters.filter((x) => x.role !== "storage")) {
    const objstore = objstoreOf(c.secrets as Obj[]);
    assert.ok(objstore, `${c.cluster} has the objstore Secret`);
    assert.equal(objstore.config.insecure, false, c.cluster);
    const http = objstore.config.http_config as {
      tls_config: Record<string, unknown>;
      insecure_skip_verify: boolean;
    };
    assert.equal(http.insecure_skip_verify, false);
    assert.deepEqual(http.tls_config, {
      ca_file: `${S3_CA_MOUNT}/ca.crt`,
      server_name: FAKE_S3_TLS.serverName,
      insecure_skip_verify: false,
    });
    const ca = (c.secrets as Obj[]).find((o) => o.metadata.name === S3_CA_SECRET);
    assert.equal(ca?.stringData?.["ca.crt"], FAKE_S3_TLS.ca, `${c.cluster} has the CA Secret`);
  }
  // mgmt: each container with --objstore.config-file mounts the CA at the path objstore.yml names.
  const mgmt = fleet.clusters.find((c) => c.role === "observer");
  let readers = 0;
  for (const t of templates((mgmt?.manifests ?? []) as Obj[])) {
    for (const c of t.containers.filter((x) =>
      x.args?.some((a) => a.startsWith("--objstore.config-file=")),
    )) {
      readers++;
      const mount = c.volumeMounts?.find((m) => m.mountPath === S3_CA_MOUNT);
      assert.ok(mount, `${c.name} mounts the CA`);
      assert.equal(t.volumes?.find((v) => v.name === mount.name)?.secret?.secretName, S3_CA_SECRET);
    }
  }
  assert.equal(readers, 4, "store, compactor, ruler and bucket web read the bucket");
  // Workload clusters: the operator mounts the Secret into the sidecar at the same path.
  for (const c of fleet.clusters.filter((x) => x.role === "workload")) {
    const spec = (c.helmValues?.prometheus as { prometheusSpec: Record<string, unknown> }).prometheusSpec;
    assert.ok((spec.secrets as string[]).includes(S3_CA_SECRET));
    const mounts = (spec.thanos as { volumeMounts: { name: string; mountPath: string }[] }).volumeMounts;
    assert.ok(mounts.some((m) => m.name === `secret-${S3_CA_SECRET}` && m.mountPath === S3_CA_MOUNT));
  }
});

test("SeaweedFS serves S3 with its certificate, its JWT keys come from a Secret, its setup Job has its certificate", () => {
  const fleet = render();
  const storage = fleet.clusters.find((c) => c.role === "storage");
  assert.ok(storage);
  const [server, job] = templates(storage.manifests as Obj[]);
  const weed = server?.containers[0];
  assert.ok(weed?.args?.includes("-s3.cert.file=/etc/thanos-fleet/seaweedfs/s3-server.crt"));
  const env = new Map((weed?.env ?? []).map((e) => [e.name, e]));
  for (const k of [
    "WEED_JWT_SIGNING_KEY",
    "WEED_JWT_SIGNING_READ_KEY",
    "WEED_JWT_FILER_SIGNING_KEY",
    "WEED_JWT_FILER_SIGNING_READ_KEY",
  ]) {
    assert.ok(env.get(k)?.valueFrom, `${k} comes from a Secret`);
    assert.equal(env.get(k)?.value, undefined);
  }
  assert.equal(env.get("WEED_HTTPS_MASTER_CA")?.value, "/etc/thanos-fleet/seaweedfs/ca.crt");
  const setup = new Map((job?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(setup.get("WEED_GRPC_CLIENT_CERT"), "/tls/seaweedfs.crt");
  // Nothing secret outside a Secret: no JWT key, no private key in a manifest.
  const text = JSON.stringify(storage.manifests);
  for (const s of [...CREDENTIAL_STRINGS, FAKE_S3_TLS.key, FAKE_S3_TLS.internalKey])
    assert.ok(!text.includes(s), s);
  for (const s of (storage.secrets as Obj[]).flatMap((o) => Object.values(o.stringData ?? {}))) {
    if (/^[0-9a-f]{64}$/.test(s)) assert.ok(!text.includes(s), "a JWT key is in a manifest");
  }
});

test("tls.s3: false renders the guide's plain HTTP: no CA, insecure objstore, no S3 certificate", () => {
  const topology = parseFleet({ ...DEFAULT_FLEET, tls: { s3: false } }, "plain s3");
  const fleet = render(topology);
  const mgmt = fleet.clusters.find((c) => c.role === "observer");
  const objstore = objstoreOf((mgmt?.secrets ?? []) as Obj[]);
  assert.equal(objstore?.config.insecure, true);
  assert.equal(objstore?.config.http_config, undefined);
  const text = JSON.stringify(fleet.clusters.map((c) => [c.manifests, c.secrets]));
  assert.ok(!text.includes(S3_CA_SECRET));
  assert.ok(!text.includes("-s3.cert.file"));
  // The filer and volume server still refuse requests without a JWT.
  assert.ok(text.includes("WEED_JWT_FILER_SIGNING_KEY"));
});
