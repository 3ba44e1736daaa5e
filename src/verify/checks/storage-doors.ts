// The `storage-doors` check: no port of the storage cluster gives anonymous access to a bucket. Every port the
// runtime reports for it (the S3 API, SeaweedFS's master, volume server, filer and metrics where they are reachable)
// is asked, over HTTP and HTTPS and without credentials, to list, read, write and delete in S3's and the filer's path
// styles; any 2xx answer is a door left open. A storage cluster whose S3 API is plain HTTP is reported too.
import type { HttpClient, HttpRequest } from "../../net/http.ts";
import type { Probe } from "../probe.ts";
import { type CheckInfo, type CheckProblem, fail, pass } from "../result.ts";
import type { CheckResult } from "../types.ts";

export const STORAGE_DOORS: CheckInfo = {
  id: "storage-doors",
  title: "storage cluster refuses anonymous bucket access on every port",
};

/** The object an anonymous write would create (in the scope-check bucket, never the fleet's). */
export const ANONYMOUS_OBJECT = "thanos-fleet-anonymous-probe";

interface Attempt {
  method: NonNullable<HttpRequest["method"]>;
  path: string;
}

/** List, read, write and delete, as S3 and as SeaweedFS's filer name them; a write token from SeaweedFS's master. */
export function attempts(bucket: string, scopeCheckBucket: string): Attempt[] {
  const object = (b: string) => `${b}/${ANONYMOUS_OBJECT}`;
  return [
    { method: "GET", path: `/${bucket}?list-type=2` },
    { method: "GET", path: `/${bucket}/` },
    { method: "PUT", path: `/${object(scopeCheckBucket)}` },
    { method: "GET", path: `/${object(scopeCheckBucket)}` },
    { method: "DELETE", path: `/${object(scopeCheckBucket)}` },
    { method: "DELETE", path: `/${scopeCheckBucket}` },
    { method: "GET", path: `/buckets/${bucket}/` },
    { method: "PUT", path: `/buckets/${object(scopeCheckBucket)}` },
    { method: "GET", path: `/buckets/${object(scopeCheckBucket)}` },
    { method: "DELETE", path: `/buckets/${object(scopeCheckBucket)}` },
    // SeaweedFS's master hands out a write token for a volume server to whoever asks.
    { method: "GET", path: "/dir/assign" },
  ];
}

/** Which of the attempts on one port were let through (2xx), over HTTP or HTTPS. */
export async function openDoors(http: HttpClient, door: string, tries: Attempt[]): Promise<string[]> {
  const open: string[] = [];
  for (const scheme of ["http", "https"]) {
    for (const a of tries) {
      const url = `${scheme}://${door}${a.path}`;
      const status = await http(url, { method: a.method, timeoutMs: 3000 }).then(
        (r) => r.status,
        () => 0,
      );
      if (status >= 200 && status < 300) open.push(`${a.method} ${url} → ${status}`);
    }
  }
  return open;
}

export async function checkStorageDoors(probe: Probe): Promise<CheckResult | undefined> {
  const store = probe.endpoints.objectStore;
  // An external object store is the user's to secure; the runtime lists the ports of a storage cluster it runs.
  if (!probe.topology.storage || !store.doors || !store.scopeCheckBucket) return undefined;
  const tries = attempts(store.bucket, store.scopeCheckBucket);
  const results = await Promise.all(store.doors.map((d) => openDoors(probe.anonymousHttp, d, tries)));
  const open = results.flat();
  const problems: CheckProblem[] = [];
  const count = `${store.doors.length} ports × ${tries.length * 2} anonymous requests`;
  if (open.length > 0) {
    problems.push({
      what: `${open.length} of ${count} were let through: ${open.join(", ")}`,
      cause: "a port of the storage cluster serves the bucket without credentials",
      fix: "bring the fleet up again with this thanos-fleet (SeaweedFS's JWT keys and mutual TLS), or close the port",
    });
  }
  if (store.url.startsWith("http:")) {
    problems.push({
      what: `the S3 API at ${store.url} is plain HTTP: its keys and blocks cross the network readable`,
      cause: "fleet.yaml sets tls.s3: false",
      fix: "remove 's3: false' from fleet.yaml and run up again",
    });
  }
  if (problems.length > 0) return fail(STORAGE_DOORS, problems);
  return pass(STORAGE_DOORS, `${count}: all refused; S3 over HTTPS verified against the fleet CA`);
}
