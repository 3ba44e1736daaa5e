// PLACEHOLDER until init lands.
export async function initCommand(_file: string, _opts: { force: boolean }): Promise<void> {
  throw new Error("init is not built yet");
}
