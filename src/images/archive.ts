// An image archive as `docker save` writes it: which images it holds, read from its manifest.json.
import { normalizeImage } from "../render/images.ts";
import { copyTarEntries, NotTarError, readTarEntry } from "../tar.ts";

interface ManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function readManifest(file: string): Promise<ManifestEntry[]> {
  let manifest: Buffer | undefined;
  try {
    manifest = await readTarEntry(file, (name) => name === "manifest.json");
  } catch (cause) {
    if (cause instanceof NotTarError) {
      throw new Error(
        `${file} is not an image archive (${cause.message}); make it with 'thanos-fleet images save ${file}'`,
        { cause },
      );
    }
    const code = (cause as NodeJS.ErrnoException).code;
    throw new Error(
      `image archive ${file} cannot be read (${code ?? String(cause)}); make it with 'thanos-fleet images save ${file}'`,
      { cause },
    );
  }
  if (!manifest) {
    throw new Error(
      `${file} is not an image archive (it has no manifest.json); make it with 'thanos-fleet images save ${file}'`,
    );
  }
  try {
    return JSON.parse(manifest.toString("utf8"));
  } catch (cause) {
    throw new Error(`the manifest.json of image archive ${file} is not JSON; save the archive again`, {
      cause,
    });
  }
}

/** The images in the archive (their normalized names); an error says what to do when it is no image archive. */
export async function archiveImages(file: string): Promise<Set<string>> {
  const entries = await readManifest(file);
  return new Set(entries.flatMap((e) => e.RepoTags ?? []).map(normalizeImage));
}

/**
 * Writes an image archive holding only the given images of `file` (normalized names): their configs and layers,
 * copied without unpacking, and a manifest.json listing them. A cluster is loaded with what it runs, not every
 * image of the fleet. Returns the images written.
 */
export async function writeArchiveSubset(
  file: string,
  dest: string,
  images: Set<string>,
): Promise<Set<string>> {
  const chosen = (await readManifest(file)).flatMap((e) => {
    const tags = (e.RepoTags ?? []).filter((t) => images.has(normalizeImage(t)));
    return tags.length > 0 ? [{ ...e, RepoTags: tags }] : [];
  });
  const files = new Set(chosen.flatMap((e) => [e.Config, ...e.Layers]));
  // `docker save` before Docker 25 keeps each layer in a directory beside its metadata (`<id>/layer.tar`, `<id>/json`).
  const dirs = [...files].filter((f) => f.endsWith("/layer.tar")).map((f) => f.slice(0, -"layer.tar".length));
  const keep = (name: string) => files.has(name) || dirs.some((d) => name.startsWith(d));
  const manifest = Buffer.from(JSON.stringify(chosen));
  await copyTarEntries(file, dest, keep, [{ name: "manifest.json", content: manifest }]);
  return new Set(chosen.flatMap((e) => e.RepoTags ?? []).map(normalizeImage));
}
