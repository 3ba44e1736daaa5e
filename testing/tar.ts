// Writes small ustar archives for tests: an image archive's manifest.json, a chart's Chart.yaml.
import { writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

export function tarOf(entries: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, content] of Object.entries(entries)) {
    const data = Buffer.from(content);
    parts.push(header(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** An image archive as `docker save` lays it out, reduced to what thanos-fleet reads: manifest.json. */
export async function writeImageArchive(file: string, images: string[]): Promise<void> {
  const manifest = images.map((image, i) => ({
    Config: `blobs/sha256/${String(i).padStart(64, "0")}`,
    RepoTags: [image],
    Layers: [],
  }));
  await writeFile(
    file,
    tarOf({ "oci-layout": '{"imageLayoutVersion":"1.0.0"}', "manifest.json": JSON.stringify(manifest) }),
  );
}

export function tgzOf(entries: Record<string, string>): Buffer {
  return gzipSync(tarOf(entries));
}
