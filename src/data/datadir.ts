/**
 * Where named datasets are read from: `--data-dir` (or a config's `dataDir`), else the environment variable
 * TOKENSQUEEZE_DATA, else `../shared/data` relative to the working directory when it exists (the layout of this
 * project's checkouts and CI), else the folder `tokensqueeze data fetch` downloads into, when it exists (a user
 * who cloned the repository alone).
 */
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../util/errors.js";

export interface DataDirChoice {
  /** Absolute path. */
  dir: string;
  /** How it was chosen, for messages. */
  from: string;
}

export function resolveDataDir(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DataDirChoice {
  if (explicit !== undefined && explicit !== "") return checked(resolve(cwd, explicit), "--data-dir");
  const fromEnv = env.TOKENSQUEEZE_DATA;
  if (fromEnv !== undefined && fromEnv !== "") return checked(resolve(cwd, fromEnv), "TOKENSQUEEZE_DATA");
  const sibling = resolve(cwd, "..", "shared", "data");
  if (existsSync(sibling) && statSync(sibling).isDirectory()) return { dir: sibling, from: "../shared/data next to the working directory" };
  const cache = dataCacheDir(env);
  if (existsSync(cache) && statSync(cache).isDirectory()) return { dir: cache, from: "the `tokensqueeze data fetch` cache" };
  throw new UserError(
    `no data directory: pass --data-dir DIR or set TOKENSQUEEZE_DATA (looked for ../shared/data from ${cwd}: ${sibling} does not exist), ` +
      `or download the benchmarks with \`tokensqueeze data fetch\` (into ${cache})`,
  );
}

/**
 * The folder `tokensqueeze data fetch` fills, laid out like a data directory (math500/test.jsonl, …):
 * TOKENSQUEEZE_DATA_CACHE, else ~/.cache/tokensqueeze/data.
 */
export function dataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TOKENSQUEEZE_DATA_CACHE;
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ".cache", "tokensqueeze", "data");
}

function checked(dir: string, from: string): DataDirChoice {
  if (!existsSync(dir)) throw new UserError(`data directory not found: ${dir} (from ${from})`);
  if (!statSync(dir).isDirectory()) throw new UserError(`not a directory: ${dir} (from ${from})`);
  return { dir, from };
}
