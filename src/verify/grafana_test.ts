// The grafana-datasource check with tls.http: the datasource as the chart renders it for a Grafana of the user's own
// (grafana: false), its request made exactly with its settings against a real HTTPS server that asks for the fleet's
// client certificate, as query-frontend does.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import type { FleetEndpoints, GrafanaDatasourceConfigMap } from "../endpoints.ts";
import { fetchClient } from "../net/http.ts";
import { HTTP_TLS_MOUNT, HTTP_TLS_SECRET } from "../render/helm.ts";
import { renderFleet } from "../render/render.ts";
import { FAKE_CREDENTIALS, FAKE_S3_TLS, kindAddresses } from "../render/testdata/fixtures.ts";
import { type HttpTls, loadOrCreateFleetTls } from "../state/tls.ts";
import { DEFAULT_FLEET, DEFAULT_SOURCE, parseFleet } from "../topology/load.ts";
import { checkGrafanaDatasources } from "./checks/grafana.ts";
import { Probe } from "./probe.ts";

const topology = parseFleet({ ...DEFAULT_FLEET, grafana: false }, DEFAULT_SOURCE);
let stateDir = "";
let tls: HttpTls;
let other: HttpTls;
let server: https.Server;
let url = "";

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "fleet-grafana-"));
  const made = await loadOrCreateFleetTls(stateDir);
  tls = made.http;
  // Another fleet's material: a CA and client certificate query-frontend does not know.
  other = (await loadOrCreateFleetTls(join(stateDir, "other"))).http;
  // As exporter-toolkit's RequireAndVerifyClientCert: no certificate from the fleet CA, no answer.
  server = https.createServer(
    { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true },
    (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success"}'),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** The datasource ConfigMap's datasource.yaml as the chart writes it from the rendered values, the URL made local. */
function renderedDatasource(material: HttpTls): string {
  const fleet = renderFleet(topology, {
    credentials: FAKE_CREDENTIALS,
    discovered: kindAddresses(topology),
    grpcTls: { ...material, serverName: "thanos-fleet-grpc" },
    httpTls: material,
    s3Tls: FAKE_S3_TLS,
  });
  const values = fleet.clusters.find((c) => c.cluster === "biz1")?.helmValues as {
    grafana: { additionalDataSources: Record<string, unknown>[] };
  };
  const [ds] = values.grafana.additionalDataSources;
  assert.ok(ds);
  return stringify({ apiVersion: 1, datasources: [{ ...ds, url }] });
}

/** The files the cluster's HTTP TLS Secret holds, by the path a Grafana mounts them at. */
function secretFiles(material: HttpTls): Record<string, string> {
  return {
    [`${HTTP_TLS_MOUNT}/http-ca.crt`]: material.ca,
    [`${HTTP_TLS_MOUNT}/http-client.crt`]: material.clientCert,
    [`${HTTP_TLS_MOUNT}/http-client.key`]: material.clientKey,
  };
}

function run(d: Partial<GrafanaDatasourceConfigMap> & { datasources: string }) {
  const { datasources, ...rest } = d;
  const endpoints: FleetEndpoints = {
    runtime: "kubernetes",
    targets: [],
    queryFrontend: url,
    objectStore: { url: "http://127.0.0.1:1", bucket: "b", accessKey: "k", secretKey: "s" },
    grafanaDatasources: [
      {
        cluster: "biz1",
        configMap: "monitoring/kube-prometheus-stack-grafana-datasource",
        expectedUrl: url,
        found: { labels: { grafana_datasource: "1" }, datasources },
        ...rest,
      },
    ],
  };
  return checkGrafanaDatasources(new Probe(topology, endpoints, fetchClient(5000), () => new Date()));
}

describe("the Thanos datasource with tls.http, for a Grafana of your own", () => {
  test("rendered: HTTPS, the CA and the client certificate from files of the Secret, nothing secret inline", () => {
    const text = renderedDatasource(tls);
    assert.match(text, /tlsAuth: true/);
    assert.match(text, /tlsAuthWithCACert: true/);
    assert.match(text, new RegExp(`tlsClientKey: \\$__file\\{${HTTP_TLS_MOUNT}/http-client.key\\}`));
    assert.ok(
      !text.includes(tls.clientKey) && !text.includes(tls.clientCert),
      "no certificate or key inline",
    );
    assert.ok(HTTP_TLS_MOUNT.endsWith(HTTP_TLS_SECRET));
  });

  test("its request, made with its own settings, is answered by a server that asks for the fleet's certificate", async () => {
    const result = await run({ datasources: renderedDatasource(tls), files: secretFiles(tls) });
    assert.equal(result?.status, "pass", JSON.stringify(result));
    assert.match(result?.detail ?? "", /answered with the datasource's CA and client certificate/);
  });

  test("a Secret with another fleet's certificate fails, naming the datasource's URL", async () => {
    const result = await run({ datasources: renderedDatasource(tls), files: secretFiles(other) });
    assert.equal(result?.status, "fail");
    assert.match(
      JSON.stringify(result),
      /the datasource's request https:\/\/127\.0\.0\.1:\d+\/api\/v1\/query/,
    );
  });

  test("a datasource without the client certificate fails: query-frontend would refuse Grafana", async () => {
    const plain = stringify({ apiVersion: 1, datasources: [{ name: "Thanos", url, jsonData: {} }] });
    const result = await run({ datasources: plain, files: secretFiles(tls) });
    assert.equal(result?.status, "fail");
    assert.match(JSON.stringify(result), /presents no client certificate/);
  });

  test("a Secret without the file the datasource names fails, naming the path", async () => {
    const { [`${HTTP_TLS_MOUNT}/http-client.key`]: _, ...files } = secretFiles(tls);
    const result = await run({ datasources: renderedDatasource(tls), files });
    assert.equal(result?.status, "fail");
    assert.match(
      JSON.stringify(result),
      /http-client\.key, which the cluster's HTTP TLS Secret does not hold/,
    );
  });
});
