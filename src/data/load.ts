/**
 * `loadDataset(ref, opts)`: one entry point for every kind of dataset reference.
 *   - a registered name (`math500`, `math-train`, `aime24`, `aime25`, `amc23`, `gsm8k`, `gsm8k-train`, the
 *     world's `world-train` and `world-test`, and whatever else was registered) or an alias of one,
 *   - a JSONL / JSON / Parquet file path, read with a field mapping,
 *   - `hf://datasets/<org>/<name>[@<revision>][/<file>]`, read from the local cache (downloaded once).
 * Filters (levels, then offset, then limit) apply after loading.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import type { DatasetSpec } from "../config/schema.js";
import { ProblemCollector } from "./collect.js";
import { resolveDataDir } from "./datadir.js";
import type { AnswerFormat, FieldMapping } from "./fields.js";
import { hfCacheDir, isHfUrl, resolveHfFile } from "./hf.js";
import { canonicalDatasetName, datasetNames, getDatasetLoader } from "./registry.js";
import type { DatasetContents } from "./types.js";

export interface LoadDatasetOptions {
  /** Data directory for named datasets (else TOKENSQUEEZE_DATA, else ../shared/data from the cwd). */
  dataDir?: string;
  /** Field mapping for files and hub files (named datasets have fixed schemas). */
  mapping?: FieldMapping;
  /** How answers are written in a file; default `auto` (GSM8K-style "#### N" is recognised). */
  answerFormat?: AnswerFormat;
  /** Skip and count bad rows instead of failing on the first. */
  skipBadRows?: boolean;
  /** Keep only these levels. */
  levels?: number[];
  /** Skip the first `offset` problems (after the level filter). */
  offset?: number;
  /** Keep the first `limit` problems (after the level filter and the offset). */
  limit?: number;
  /** Cache folder for hf:// datasets (default TOKENSQUEEZE_CACHE or ~/.cache/tokensqueeze/hf). */
  cacheDir?: string;
  /** Network access for hf:// (injected in tests). */
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Progress and download messages. */
  onMessage?: (message: string) => void;
}

export interface LoadedDataset extends DatasetContents {
  /** The dataset's one name for a named dataset (an alias resolves to it), else the reference as given. */
  name: string;
  kind: "named" | "file" | "hf";
  /** The data directory used (named datasets that read files). */
  dataDir?: string;
  /** Problems before the level and limit filters. */
  loadedCount: number;
}

export async function loadDataset(ref: string, opts: LoadDatasetOptions = {}): Promise<LoadedDataset> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let contents: DatasetContents;
  let kind: LoadedDataset["kind"];
  let dataDir: string | undefined;

  const named = ref.includes("/") ? undefined : getDatasetLoader(ref);
  const name = named ? canonicalDatasetName(ref) : ref;
  if (isHfUrl(ref)) {
    kind = "hf";
    const local = await resolveHfFile(ref, { cacheDir: opts.cacheDir ?? hfCacheDir(env), fetch: opts.fetch, env, onMessage: opts.onMessage });
    contents = await loadFile(local, ref, opts);
  } else if (named) {
    kind = "named";
    if (opts.mapping && Object.values(opts.mapping).some((v) => v !== undefined)) {
      throw new UserError(`${ref}: field mappings apply to files; the named dataset "${ref}" has a fixed schema`);
    }
    if (named.usesDataDir) {
      const choice = resolveDataDir(opts.dataDir, env, cwd);
      dataDir = choice.dir;
      for (const f of named.files ?? []) {
        const path = join(choice.dir, f);
        if (!existsSync(path)) {
          throw new UserError(
            `${ref}: file not found: ${path} (data directory ${choice.dir}, from ${choice.from}); \`tokensqueeze data fetch ${name}\` downloads it`,
          );
        }
      }
    }
    contents = await named.load({ name, dataDir, skipBadRows: opts.skipBadRows ?? false });
  } else {
    const path = resolve(cwd, ref);
    if (!existsSync(path)) {
      throw new UserError(`unknown dataset "${ref}": not a named dataset (${datasetNames().join(", ")}) and no file at ${path}`);
    }
    kind = "file";
    contents = await loadFile(path, ref, opts);
  }

  const loadedCount = contents.problems.length;
  let problems = contents.problems;
  if (opts.levels && opts.levels.length > 0) {
    const keep = new Set(opts.levels);
    problems = problems.filter((p) => p.meta.level !== undefined && keep.has(p.meta.level));
  }
  if (opts.offset !== undefined) problems = problems.slice(opts.offset);
  if (opts.limit !== undefined) problems = problems.slice(0, opts.limit);
  return { ...contents, problems, name, kind, dataDir, loadedCount };
}

async function loadFile(path: string, source: string, opts: LoadDatasetOptions): Promise<DatasetContents> {
  const collector = new ProblemCollector(opts.skipBadRows ?? false);
  await collector.addFile(path, { source, mapping: opts.mapping, answerFormat: opts.answerFormat ?? "auto" });
  return collector.contents();
}

/** Loads a dataset as a run configuration describes it (`datasets[i]` or `evaluation.benchmarks[i]`). */
export async function loadDatasetSpec(
  spec: DatasetSpec,
  opts: Omit<LoadDatasetOptions, "mapping" | "levels" | "offset" | "limit"> = {},
): Promise<LoadedDataset> {
  const mapping: FieldMapping = {
    question: spec.questionField,
    answer: spec.answerField,
    id: spec.idField,
    level: spec.levelField,
    subject: spec.subjectField,
  };
  const hasMapping = Object.values(mapping).some((v) => v !== undefined);
  return loadDataset(spec.name, { ...opts, mapping: hasMapping ? mapping : undefined, levels: spec.levels, offset: spec.offset, limit: spec.limit });
}
