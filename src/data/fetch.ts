/**
 * `tokensqueeze data fetch`: downloads the named benchmarks' files into a folder laid out like the data directory
 * (by default the one `resolveDataDir` falls back to), through the same hub download code as hf:// datasets, and
 * checks each file's sha256 before it is renamed into place.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { benchmarkFiles, type HubFile } from "./fetch-sources.js";
import { downloadHubFile, hfResolveUrl, parseHfUrl } from "./hf.js";
import { canonicalDatasetName, datasetNames, getDatasetLoader } from "./registry.js";

export interface FetchOptions {
  /** The folder to fill (laid out like a data directory). */
  cacheDir: string;
  /** `org/name[@revision]`: a dataset repository laid out like the data directory; every file comes from it. */
  mirror?: string;
  /** HF_ENDPOINT (the hub's base URL) and HF_TOKEN are read from here. */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  onMessage?: (message: string) => void;
}

export interface FetchedFile {
  dataset: string;
  /** Path inside the data directory. */
  file: string;
  /** Where it now is. */
  path: string;
  /** Where it came from (or would have come from, when it was already present). */
  url: string;
  sha256: string;
  bytes: number;
  status: "downloaded" | "present";
}

/** The named datasets `data fetch` can download: those whose every file has a recorded checksum. */
export function fetchableDatasets(): string[] {
  return datasetNames().filter((name) => {
    const files = getDatasetLoader(name)?.files ?? [];
    return files.length > 0 && files.every((f) => f in benchmarkFiles);
  });
}

interface PlannedFile {
  dataset: string;
  file: string;
  hub: HubFile;
}

export async function fetchBenchmarks(names: string[], opts: FetchOptions): Promise<FetchedFile[]> {
  const plan = planFetch(names, opts.mirror);
  const results: FetchedFile[] = [];
  for (const item of plan) {
    const expected = benchmarkFiles[item.file];
    const path = join(opts.cacheDir, ...item.file.split("/"));
    const target = hfResolveUrl({ repo: item.hub.repo, revision: item.hub.revision }, item.hub.path, opts.env);
    const label = `${item.dataset} (${item.file})`;
    // A file already in place is kept only when it is the expected one; anything else is downloaded over it.
    if (existsSync(path) && sha256Of(path) === expected.sha256) {
      results.push({ ...item, path, url: target, sha256: expected.sha256, bytes: expected.bytes, status: "present" });
      continue;
    }
    await downloadHubFile(target, path, { cacheDir: opts.cacheDir, env: opts.env, fetch: opts.fetch, onMessage: opts.onMessage }, label, expected);
    results.push({ ...item, path, url: target, sha256: expected.sha256, bytes: expected.bytes, status: "downloaded" });
  }
  return results;
}

/** Every file to fetch, with its source, checked before anything is downloaded (so a bad name fetches nothing). */
function planFetch(names: string[], mirror: string | undefined): PlannedFile[] {
  const fetchable = fetchableDatasets();
  const wanted = names.length === 0 ? fetchable : [...new Set(names.map((n) => canonicalDatasetName(n)))];
  const mirrorRef = mirror === undefined ? undefined : parseMirror(mirror);
  const plan: PlannedFile[] = [];
  for (const dataset of wanted) {
    if (!fetchable.includes(dataset)) {
      const what = getDatasetLoader(dataset) ? "has no files to download" : "is not a named dataset";
      throw new UserError(`data fetch: "${dataset}" ${what}; it can fetch: ${fetchable.join(", ")}`);
    }
    for (const file of getDatasetLoader(dataset)!.files!) {
      const hub = mirrorRef ? { ...mirrorRef, path: file } : benchmarkFiles[file].hub;
      if (!hub) {
        throw new UserError(
          `data fetch: ${dataset} (${file}): no public Hugging Face copy of this file with the expected bytes is known ` +
            `(sha256 ${benchmarkFiles[file].sha256}); pass --mirror org/name for a dataset repository laid out like the ` +
            `data directory, or set TOKENSQUEEZE_DATA to a folder that has it`,
        );
      }
      plan.push({ dataset, file, hub });
    }
  }
  return plan;
}

function parseMirror(mirror: string): { repo: string; revision: string } {
  if (!/^[^/@\s]+\/[^/@\s]+(@[^\s]+)?$/.test(mirror)) throw new UserError(`--mirror: expected org/name or org/name@revision, got "${mirror}"`);
  const ref = parseHfUrl(`hf://datasets/${mirror}`);
  return { repo: ref.repo, revision: ref.revision };
}

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
