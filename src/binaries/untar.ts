// Reads one regular file out of a .tar.gz, streaming, without unpacking anything else (ustar, GNU long names
// and pax path records, as GNU tar writes them).

import { createReadStream } from "node:fs";
import { chmod, type FileHandle, open } from "node:fs/promises";
import { createGunzip } from "node:zlib";

const BLOCK = 512;

/** Writes `member` of the gzipped tar `archive` to `dest` (mode 0755); rejects if it is absent or not a regular file. */
export async function extractMember(archive: string, member: string, dest: string): Promise<void> {
  const want = normalize(member);
  const out = await open(dest, "w");
  let found = false;
  const input = createReadStream(archive).pipe(createGunzip());
  try {
    let pending: Buffer = Buffer.alloc(0);
    // What the bytes after the current header are: a file's data, a long name for the next header, or padding.
    let remaining = 0;
    let padding = 0;
    let sink: "member" | "skip" | "name" | "pax" = "skip";
    let meta: Buffer[] = [];
    let nextName: string | undefined;
    let written = 0;
    reading: for await (const chunk of input as AsyncIterable<Buffer>) {
      const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      for (;;) {
        if (remaining > 0) {
          const n = Math.min(remaining, buf.length - off);
          if (n === 0) break;
          const part = buf.subarray(off, off + n);
          if (sink === "member") written += await writeAll(out, part, written);
          else if (sink !== "skip") meta.push(Buffer.from(part));
          remaining -= n;
          off += n;
          if (remaining > 0) break;
          if (sink === "member") {
            found = true;
            break reading;
          }
          if (sink === "name") nextName = Buffer.concat(meta).toString("utf8").replace(/\0.*$/s, "");
          if (sink === "pax") nextName = paxPath(Buffer.concat(meta)) ?? nextName;
          continue;
        }
        if (padding > 0) {
          const n = Math.min(padding, buf.length - off);
          if (n === 0) break;
          padding -= n;
          off += n;
          continue;
        }
        if (buf.length - off < BLOCK) break;
        const header = buf.subarray(off, off + BLOCK);
        off += BLOCK;
        if (header.every((b) => b === 0)) break reading;
        const size = parseSize(header.subarray(124, 136));
        const type = String.fromCharCode(header[156] ?? 0);
        const name = nextName ?? headerName(header);
        remaining = size;
        padding = (BLOCK - (size % BLOCK)) % BLOCK;
        meta = [];
        if (type === "L") sink = "name";
        else if (type === "x") sink = "pax";
        else {
          nextName = undefined;
          sink = "skip";
          if (normalize(name) === want) {
            if (type !== "0" && type !== "\0") {
              throw new Error(
                `${member} in ${archive} is not a regular file (tar type ${JSON.stringify(type)})`,
              );
            }
            sink = "member";
            if (size === 0) {
              found = true;
              break reading;
            }
          }
        }
      }
      pending = Buffer.from(buf.subarray(off));
    }
  } finally {
    input.destroy();
    await out.close();
  }
  if (!found) throw new Error(`${archive} holds no ${member}`);
  await chmod(dest, 0o755);
}

async function writeAll(out: FileHandle, part: Buffer, position: number): Promise<number> {
  await out.write(part, 0, part.length, position);
  return part.length;
}

function normalize(path: string): string {
  return path.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

/** ustar splits a long path into prefix (345..500) and name (0..100). */
function headerName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const ustar = h.subarray(257, 262).toString("latin1") === "ustar";
  const prefix = ustar ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** Octal, or base-256 with the high bit set (GNU tar, files of 8 GiB and more). */
function parseSize(field: Buffer): number {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let n = (field[0] ?? 0) & 0x7f;
    for (const b of field.subarray(1)) n = n * 256 + b;
    return n;
  }
  const text = cString(field).trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

/** pax records are `<len> <key>=<value>\n`. */
function paxPath(records: Buffer): string | undefined {
  let path: string | undefined;
  for (const line of records.toString("utf8").split("\n")) {
    const m = /^\d+ path=(.*)$/s.exec(line);
    if (m) path = m[1];
  }
  return path;
}
