// Credentials generated at random per fleet and kept in the state dir (mode 0600), never in rendered values.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse } from "yaml";
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

function token(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

export function generateCredentials(): Credentials {
  return {
    minioRoot: {
      user: `root-${token(6)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, "x")}`,
      password: token(24),
    },
    thanos: { accessKey: `thanos-${token(9).replace(/[^A-Za-z0-9]/g, "x")}`, secretKey: token(30) },
    grafana: { user: "admin", password: token(18) },
  };
}

/** The fleet's credentials from the state dir, or new ones that `save()` writes there (for read ones, a no-op). */
export async function loadCredentials(
  stateDir: string,
): Promise<{ credentials: Credentials; save: () => Promise<void> }> {
  const file = join(stateDir, CREDENTIALS_FILE);
  try {
    return { credentials: Credentials.parse(parse(await readFile(file, "utf8"))), save: async () => {} };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`credentials in ${file} are unreadable; delete the file to generate new ones`, {
        cause,
      });
    }
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
