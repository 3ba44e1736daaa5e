// Reads single files out of a tar archive (ustar, with GNU and PAX long names) without unpacking it: the image
// archive's manifest.json and a chart's Chart.yaml. Only headers are read; file contents are skipped by offset.
import { open } from "node:fs/promises";
import { gunzipSync } from "node:zlib";

const BLOCK = 512;

/** Reads `length` bytes at `offset`; fewer at the end. */
type ReadAt = (offset: number, length: number) => Promise<Buffer>;

function text(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString("utf8");
}

function octal(header: Buffer, start: number, length: number): number {
  const s = text(header, start, length).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

/** The PAX `path` record, if the extended header has one. */
function paxPath(data: Buffer): string | undefined {
  for (const line of data.toString("utf8").split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

async function find(read: ReadAt, wanted: (name: string) => boolean): Promise<Buffer | undefined> {
  let offset = 0;
  let longName: string | undefined;
  for (;;) {
    const header = await read(offset, BLOCK);
    if (header.length < BLOCK || header.every((b) => b === 0)) return undefined;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const data = offset + BLOCK;
    offset = data + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L" || type === "x") {
      const body = await read(data, size);
      longName = type === "L" ? text(body, 0, size) : (paxPath(body) ?? longName);
      continue;
    }
    const prefix = text(header, 345, 155);
    const name = (longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100))).replace(
      /^\.\//,
      "",
    );
    longName = undefined;
    if ((type === "0" || type === "\0") && wanted(name)) return read(data, size);
  }
}

/** The first regular file of a tar file on disk whose name `wanted` accepts. */
export async function readTarEntry(
  file: string,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  const handle = await open(file, "r");
  try {
    return await find(async (offset, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    }, wanted);
  } finally {
    await handle.close();
  }
}

/** The same, for a gzipped tar held in memory (a Helm chart .tgz). */
export async function readTgzEntry(
  content: Buffer,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  const tar = gunzipSync(content);
  return find(async (offset, length) => tar.subarray(offset, offset + length), wanted);
}
