// An image archive as `docker save` writes it: which images it holds, read from its manifest.json.
import { normalizeImage } from "../render/images.ts";
import { readTarEntry } from "./tar.ts";

/** The images in the archive (their normalized names); an error says what to do when it is no image archive. */
export async function archiveImages(file: string): Promise<Set<string>> {
  let manifest: Buffer | undefined;
  try {
    manifest = await readTarEntry(file, (name) => name === "manifest.json");
  } catch (cause) {
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
  let entries: { RepoTags?: string[] | null }[];
  try {
    entries = JSON.parse(manifest.toString("utf8"));
  } catch (cause) {
    throw new Error(`the manifest.json of image archive ${file} is not JSON; save the archive again`, {
      cause,
    });
  }
  return new Set(entries.flatMap((e) => e.RepoTags ?? []).map(normalizeImage));
}
