import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { signV4, uriEncode } from "./sigv4.ts";

// The examples of AWS's "Signature Calculations for the Authorization Header" page (S3 API reference).
const AWS_EXAMPLE = {
  accessKey: "AKIAIOSFODNN7EXAMPLE",
  secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
  date: new Date("2013-05-24T00:00:00Z"),
};

describe("signV4", () => {
  const cases: { name: string; url: string; headers: Record<string, string>; signature: string }[] = [
    {
      name: "GET object with a Range header",
      url: "https://examplebucket.s3.amazonaws.com/test.txt",
      headers: { range: "bytes=0-9" },
      signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    },
    {
      name: "GET bucket lifecycle (a query parameter without value)",
      url: "https://examplebucket.s3.amazonaws.com/?lifecycle",
      headers: {},
      signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    },
    {
      name: "list objects (query parameters sorted)",
      url: "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2",
      headers: {},
      signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    },
  ];
  for (const c of cases) {
    it(`matches AWS's example: ${c.name}`, () => {
      const signed = signV4({ ...AWS_EXAMPLE, method: "GET", url: new URL(c.url), headers: c.headers });
      assert.equal(signed.signature, c.signature, signed.canonicalRequest);
      assert.match(
        signed.headers.authorization ?? "",
        /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;/,
      );
      assert.equal(signed.headers.host, undefined, "fetch sets Host itself from the URL");
    });
  }

  it("signs the host with its port, as fetch sends it", () => {
    const signed = signV4({
      ...AWS_EXAMPLE,
      method: "GET",
      url: new URL("http://127.0.0.1:32000/thanos?list-type=2"),
    });
    assert.match(signed.canonicalRequest, /\nhost:127\.0\.0\.1:32000\n/);
  });
});

describe("uriEncode", () => {
  const cases: [string, boolean, string][] = [
    ["a b", false, "a%20b"],
    ["01H/meta.json", true, "01H/meta.json"],
    ["01H/meta.json", false, "01H%2Fmeta.json"],
    ["~-_.", false, "~-_."],
    ["é", false, "%C3%A9"],
  ];
  for (const [input, keepSlash, want] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(uriEncode(input, keepSlash), want));
  }
});
