// Reads single files out of a tar archive (ustar, with GNU and PAX long names) without unpacking it: the image
// archive's manifest.json and a chart's Chart.yaml. Only headers are read; file contents are skipped by offset.
// Also copies a chosen part of an archive into a new one, entry by entry, without unpacking.
import { type FileHandle, open } from "node:fs/promises";
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

/** One entry of a tar: its name and type, where its headers start (long-name headers included) and its data. */
export interface TarEntry {
  name: string;
  /** "0" for a regular file, "5" for a directory, … */
  type: string;
  /** Offset of its first header (a GNU or PAX long-name header when it has one). */
  start: number;
  data: number;
  size: number;
  /** Offset just past its data, padding included. */
  end: number;
}

/** Every entry of the tar, in order, reading only headers. */
async function* entries(read: ReadAt): AsyncGenerator<TarEntry> {
  let offset = 0;
  let longName: string | undefined;
  let start = 0;
  for (;;) {
    const header = await read(offset, BLOCK);
    if (header.length < BLOCK || header.every((b) => b === 0)) return;
    const size = octal(header, 124, 12);
    const raw = String.fromCharCode(header[156] ?? 0);
    const data = offset + BLOCK;
    offset = data + Math.ceil(size / BLOCK) * BLOCK;
    if (raw === "L" || raw === "x") {
      const body = await read(data, size);
      longName = raw === "L" ? text(body, 0, size) : (paxPath(body) ?? longName);
      continue;
    }
    const prefix = text(header, 345, 155);
    const name = (longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100))).replace(
      /^\.\//,
      "",
    );
    longName = undefined;
    yield { name, type: raw === "\0" ? "0" : raw, start, data, size, end: offset };
    start = offset;
  }
}

async function find(read: ReadAt, wanted: (name: string) => boolean): Promise<Buffer | undefined> {
  for await (const e of entries(read)) if (e.type === "0" && wanted(e.name)) return read(e.data, e.size);
  return undefined;
}

/** Reads at offsets of an open file. */
const readerOf =
  (handle: FileHandle): ReadAt =>
  async (offset, length) => {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  };

/** A ustar header for a regular file (mode 0644, owned by root). */
function fileHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  const put = (value: string, start: number, length: number) => header.write(value, start, length, "utf8");
  const num = (n: number, length: number) => n.toString(8).padStart(length - 1, "0");
  put(name, 0, 100);
  put(num(0o644, 8), 100, 8);
  put(num(0, 8), 108, 8);
  put(num(0, 8), 116, 8);
  put(num(size, 12), 124, 12);
  put(num(Math.floor(Date.now() / 1000), 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\u000000", 257, 8);
  const sum = header.reduce((a, b) => a + b, 0);
  put(`${num(sum, 7)}\0`, 148, 8);
  return header;
}

/**
 * Writes a tar holding the entries of `file` that `keep` accepts, byte for byte, and then `extra` files; entries
 * are copied without unpacking, in their order.
 */
export async function copyTarEntries(
  file: string,
  dest: string,
  keep: (name: string) => boolean,
  extra: { name: string; content: Buffer }[] = [],
): Promise<void> {
  const source = await open(file, "r");
  const out = await open(dest, "w", 0o600);
  try {
    const read = readerOf(source);
    const chunk = 4 * 1024 * 1024;
    for await (const e of entries(read)) {
      if (!keep(e.name)) continue;
      for (let at = e.start; at < e.end; at += chunk) {
        const bytes = await read(at, Math.min(chunk, e.end - at));
        await out.write(bytes);
      }
    }
    for (const f of extra) {
      if (f.name.length > 100) throw new Error(`tar entry name too long: ${f.name}`);
      await out.write(fileHeader(f.name, f.content.length));
      await out.write(f.content);
      await out.write(Buffer.alloc((BLOCK - (f.content.length % BLOCK)) % BLOCK));
    }
    await out.write(Buffer.alloc(2 * BLOCK));
  } finally {
    await source.close();
    await out.close();
  }
}

/** The first regular file of a tar file on disk whose name `wanted` accepts. */
export async function readTarEntry(
  file: string,
  wanted: (name: string) => boolean,
): Promise<Buffer | undefined> {
  const handle = await open(file, "r");
  try {
    return await find(readerOf(handle), wanted);
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
