// Credentials generated at random per fleet and kept in the state dir (mode 0600), never in rendered values.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseDocument } from "yaml";
import { z } from "zod";
import { stringify } from "../yaml.ts";

const Credentials = z.object({
  minioRoot: z.object({ user: z.string(), password: z.string() }),
  /** Thanos's own key, allowed only on the fleet's bucket. */
  thanos: z.object({ accessKey: z.string(), secretKey: z.string() }),
  grafana: z.object({ user: z.string(), password: z.string() }),
});
export type Credentials = z.infer<typeof Credentials>;

export const CREDENTIALS_FILE = "credentials.yaml";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A random string of letters and digits: nothing a command-line parser takes for a flag ("-…"), a shell or a URL
 * for syntax. Unbiased: bytes from 248 up are drawn again.
 */
export function token(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}

export function generateCredentials(): Credentials {
  return {
    minioRoot: { user: `root-${token(8).toLowerCase()}`, password: token(32) },
    thanos: { accessKey: `thanos-${token(12)}`, secretKey: token(40) },
    grafana: { user: "admin", password: token(24) },
  };
}

/** The fleet's credentials from the state dir, or new ones that `save()` writes there (for read ones, a no-op). */
export async function loadCredentials(
  stateDir: string,
): Promise<{ credentials: Credentials; save: () => Promise<void> }> {
  const file = join(stateDir, CREDENTIALS_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(
        `credentials in ${file} are unreadable; check its permissions, or delete it to generate new ones`,
        {
          cause,
        },
      );
    }
  }
  if (text !== undefined) {
    // The file holds secrets: what is wrong with it is said without the parser's excerpt of it.
    const doc = parseDocument(text, { prettyErrors: true });
    const line = doc.errors[0]?.linePos?.[0]?.line;
    const parsed =
      doc.errors.length === 0 ? Credentials.safeParse(doc.toJS({ maxAliasCount: 10 })) : undefined;
    if (parsed?.success) return { credentials: parsed.data, save: async () => {} };
    const what = parsed
      ? `lacks ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`
      : `is not valid YAML${line === undefined ? "" : ` at line ${line}`}`;
    throw new Error(
      `credentials in ${file} are damaged: it ${what} (its content is secret and not shown); delete the file to generate new ones`,
    );
  }
  const credentials = generateCredentials();
  const save = async () => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, stringify(credentials), { mode: 0o600 });
    await chmod(file, 0o600);
  };
  return { credentials, save };
}

/** Reads the fleet's credentials, creating them on first use. */
export async function loadOrCreateCredentials(stateDir: string): Promise<Credentials> {
  const { credentials, save } = await loadCredentials(stateDir);
  await save();
  return credentials;
}
