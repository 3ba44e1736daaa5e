import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HttpClient } from "./http.ts";
import { parseListing, S3Client, S3Error } from "./s3.ts";

const ACCESS = { url: "http://127.0.3.1:9000", bucket: "thanos", accessKey: "AK", secretKey: "SK" };

// Shapes as MinIO answers them.
const PAGE1 = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>thanos</Name><Prefix></Prefix><NextContinuationToken>tok/1+&amp;</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><CommonPrefixes><Prefix>01M85MH4CGQGDRC14FXYYH2Y4D/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>01M85MH4G87RRXWM86K2DWS6CN/</Prefix></CommonPrefixes></ListBucketResult>`;
const PAGE2 = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>thanos</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>debug/a &amp; b.json</Key><LastModified>2026-11-24T01:51:55.060Z</LastModified><Size>12</Size></Contents><CommonPrefixes><Prefix>01M85MH8QD7N34X4WMVSPMN1DP/</Prefix></CommonPrefixes></ListBucketResult>`;
const DENIED = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidAccessKeyId</Code><Message>The Access Key Id you provided does not exist in our records.</Message><BucketName>thanos</BucketName><Resource>/thanos</Resource></Error>`;

describe("parseListing", () => {
  it("reads prefixes, keys, truncation and the (entity-decoded) continuation token", () => {
    const page = parseListing(PAGE1);
    assert.deepEqual(page.prefixes, ["01M85MH4CGQGDRC14FXYYH2Y4D/", "01M85MH4G87RRXWM86K2DWS6CN/"]);
    assert.equal(page.truncated, true);
    assert.equal(page.next, "tok/1+&");
    assert.deepEqual(parseListing(PAGE2).keys, [
      { key: "debug/a & b.json", lastModified: "2026-11-24T01:51:55.060Z", size: 12 },
    ]);
  });
});

describe("S3Client", () => {
  it("follows continuation tokens, path-style, every request signed", async () => {
    const urls: string[] = [];
    const http: HttpClient = async (url, req) => {
      urls.push(url);
      assert.match(
        req?.headers?.authorization ?? "",
        /^AWS4-HMAC-SHA256 Credential=AK\/\d{8}\/us-east-1\/s3\/aws4_request/,
      );
      assert.ok(req?.headers?.["x-amz-date"]);
      return { status: 200, headers: {}, body: url.includes("continuation-token") ? PAGE2 : PAGE1 };
    };
    const listing = await new S3Client(ACCESS, http).list({ delimiter: "/" });
    assert.equal(listing.prefixes.length, 3);
    assert.equal(urls[0], "http://127.0.3.1:9000/thanos?delimiter=%2F&list-type=2&prefix=");
    assert.equal(
      urls[1],
      "http://127.0.3.1:9000/thanos?continuation-token=tok%2F1%2B%26&delimiter=%2F&list-type=2&prefix=",
    );
  });

  it("turns an S3 error document into an S3Error with its code", async () => {
    const http: HttpClient = async () => ({ status: 403, headers: {}, body: DENIED });
    await assert.rejects(
      new S3Client(ACCESS, http).list(),
      (e: unknown) => e instanceof S3Error && e.code === "InvalidAccessKeyId" && e.status === 403,
    );
  });

  it("names HEAD failures by status (HEAD answers carry no body)", async () => {
    const http: HttpClient = async () => ({ status: 404, headers: {}, body: "" });
    await assert.rejects(
      new S3Client(ACCESS, http).headBucket(),
      (e: unknown) => e instanceof S3Error && e.code === "NotFound",
    );
  });

  it("gets an object by its key, encoded once", async () => {
    let seen = "";
    const http: HttpClient = async (url) => {
      seen = url;
      return { status: 200, headers: {}, body: "{}" };
    };
    assert.equal(await new S3Client(ACCESS, http).get("01M85MH4CGQGDRC14FXYYH2Y4D/meta.json"), "{}");
    assert.equal(seen, "http://127.0.3.1:9000/thanos/01M85MH4CGQGDRC14FXYYH2Y4D/meta.json");
  });
});
