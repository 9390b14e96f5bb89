/** Shared test helpers: paths, running the CLI as a user would, temporary folders. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The benchmark data shipped beside the checkout; tests read it in place and never copy it. */
export const sharedData = process.env.TOKENSQUEEZE_DATA ?? resolve(repoRoot, "..", "shared", "data");
export const venvPython = join(repoRoot, ".venv", "bin", "python");

export function tempDir(prefix = "ts-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the CLI from source through tsx, exactly as `npx tokensqueeze` would from dist/. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** The Python reference checks need the project's venv; a missing venv is a setup error, never a skip. */
export function requireVenvPython(): string {
  if (!existsSync(venvPython)) {
    throw new Error(`Python venv missing at ${venvPython}: run 'npm run setup:python' first`);
  }
  return venvPython;
}
