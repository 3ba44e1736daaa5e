// The one tar reader (tar-stream, streaming): a binary out of a release .tar.gz, an image archive's manifest.json,
// a chart's Chart.yaml, and an image archive cut down to some of its entries.
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, rm } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract, type Header, pack } from "tar-stream";

/** Bytes that are not a tar (or, for a .tar.gz, not gzip): the message names the file and what was wrong. */
export class NotTarError extends Error {
  constructor(
    readonly file: string,
    options: ErrorOptions & { cause: unknown },
  ) {
    super(`${file} is not a readable tar archive: ${(options.cause as Error).message}`, options);
    this.name = "NotTarError";
  }
}

/** tar's one-character type flags, by tar-stream's names: what GNU tar and its docs call each type. */
const TYPE_FLAG: Readonly<Record<Header["type"], string>> = {
  file: "0",
  link: "1",
  symlink: "2",
  "character-device": "3",
  "block-device": "4",
  directory: "5",
  fifo: "6",
  "contiguous-file": "7",
};

/** `./a/b` and `a/b` name the same entry. */
function withoutDot(path: string): string {
  return path.replace(/^(\.\/)+/, "");
}

/** A directory's entry is named with a trailing slash. */
function withoutSlash(path: string): string {
  return path.replace(/\/+$/, "");
}

/**
 * Reads the tar from `input` entry by entry until `visit` returns true. `visit` gets the header with the name
 * without a leading `./`, the body, and the header as read; what it leaves of the body unread is skipped. A stream error (the file) rejects as it is; a malformed archive as a NotTarError.
 */
async function eachEntry(
  file: string,
  input: Readable,
  visit: (header: Header, body: Readable, raw: Header) => Promise<boolean>,
): Promise<void> {
  const ex = extract();
  let inputError: unknown;
  input.once("error", (err) => {
    inputError = err;
    ex.destroy(err);
  });
  input.pipe(ex as unknown as Writable);
  try {
    for await (const entry of ex) {
      const body = entry as unknown as Readable;
      const header = { ...entry.header, name: withoutDot(entry.header.name) };
      if (await visit(header, body, entry.header)) return;
      body.resume();
    }
  } catch (err) {
    if (inputError !== undefined) throw inputError;
    throw new NotTarError(file, { cause: err });
  } finally {
    input.destroy();
    ex.destroy();
  }
}

async function bodyOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The first regular file that `wanted` accepts, read whole; undefined when there is none. */
async function find(
  file: string,
  input: Readable,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  let found: Buffer | undefined;
  await eachEntry(file, input, async (header, body) => {
    if (header.type !== "file" || !wanted(header.name)) return false;
    found = await bodyOf(body);
    return true;
  });
  return found;
}

/** Writes `member` of the gzipped tar `archive` to `dest` (mode 0755); rejects if it is absent or not a regular file. */
export async function extractMember(archive: string, member: string, dest: string): Promise<void> {
  const want = withoutSlash(withoutDot(member));
  let found = false;
  try {
    await eachEntry(archive, gunzipped(archive), async (header, body) => {
      if (withoutSlash(header.name) !== want) return false;
      if (header.type !== "file") {
        throw new Error(
          `${member} in ${archive} is not a regular file (tar type ${JSON.stringify(TYPE_FLAG[header.type])})`,
        );
      }
      await pipeline(body, createWriteStream(dest, { mode: 0o755 }));
      found = true;
      return true;
    });
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
  if (!found) throw new Error(`${archive} holds no ${member}`);
  await chmod(dest, 0o755);
}

/** The file's bytes gunzipped; an error reading the file comes out of the gunzip stream. */
function gunzipped(file: string): Readable {
  const gunzip = createGunzip();
  createReadStream(file)
    .once("error", (err) => gunzip.destroy(err))
    .pipe(gunzip);
  return gunzip;
}

/** The first regular file of a tar file on disk whose name `wanted` accepts. */
export async function readTarEntry(
  file: string,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  return find(file, createReadStream(file), wanted);
}

/** The same, for a gzipped tar held in memory (a Helm chart .tgz). */
export async function readTgzEntry(
  content: Buffer,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  return find("the chart archive", Readable.from([content]).pipe(createGunzip()), wanted);
}

/**
 * Writes a tar holding the entries of `file` that `keep` accepts, their contents unchanged and in their order, and
 * then `extra` files (mode 0644, owned by root).
 */
export async function copyTarEntries(
  file: string,
  dest: string,
  keep: (name: string) => boolean,
  extra: { name: string; content: Buffer }[] = [],
): Promise<void> {
  const out = pack();
  const written = pipeline(out as unknown as Readable, createWriteStream(dest, { mode: 0o600 }));
  const add = (header: Header, body?: Readable | Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body !== undefined && !Buffer.isBuffer(body)) {
        body.once("error", reject);
        body.pipe(out.entry(header, done) as unknown as Writable);
      } else {
        out.entry(header, body ?? Buffer.alloc(0), done);
      }
    });
  try {
    await eachEntry(file, createReadStream(file), async (header, body, raw) => {
      if (!keep(header.name)) return false;
      await add(raw, header.size > 0 ? body : undefined);
      return false;
    });
    const mtime = new Date();
    for (const f of extra) {
      await add(
        { name: f.name, size: f.content.length, mode: 0o644, uid: 0, gid: 0, mtime, type: "file" } as Header,
        f.content,
      );
    }
    out.finalize();
    await written;
  } catch (err) {
    out.destroy(err as Error);
    await written.catch(() => {});
    throw err;
  }
}
