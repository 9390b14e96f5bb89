/**
 * One evaluation from a resolved run configuration to metrics: load the benchmarks, open the engine, open or
 * create the run directory, sample/grade/store (resuming), compute the metrics. `tokensqueeze eval` is a thin
 * wrapper around `runEvaluation`; the demo and `world report` call it directly.
 *
 * Everything that can fail because of the user's input fails before any sampling starts, in this order:
 * an unknown benchmark (or one its filters leave empty), a missing model folder or unreachable engine, a
 * prompt preset the model cannot use, a run directory holding other settings.
 */
import type { RunConfig } from "../config/index.js";
import { canonicalDatasetName, loadDatasetSpec, type SkippedRow } from "../data/index.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, withResolvedModelPath } from "../engines/factory.js";
import { RunStore, withRun } from "../store/index.js";
import { UserError } from "../util/errors.js";
import type { ProgressReporter } from "../util/progress.js";
import { evaluate, type EvalBenchmark, type EvalReport, type EvalSettings } from "./evaluate.js";
import { checkPromptPreset } from "../sampling/prompts.js";
import { contextWarning } from "../sampling/sample-problem.js";

export interface RunEvaluationOptions {
  /** The resolved configuration; its `engine`, `evaluation`, `dataDir` and `seed` are used. */
  config: RunConfig;
  /** The run directory: created when missing, resumed when it holds this evaluation. */
  outDir: string;
  /** An engine already open (the caller closes it); else one is opened from `config.engine` and closed here. */
  engine?: Engine;
  /** Adopt changed settings in an existing run (the old samples are archived, never deleted). */
  force?: boolean;
  /** The command line, recorded in the run's history. */
  argv?: readonly string[];
  progress?: ProgressReporter;
  signal?: AbortSignal;
  resumeCommand?: string;
  handleSignals?: boolean;
  cwd?: string;
  /** Skip and count bad rows of the benchmarks' files instead of failing on the first (`--skip-bad-rows`). */
  skipBadRows?: boolean;
  /** Told about each benchmark's skipped rows, before sampling starts. */
  onSkippedRows?: (benchmark: string, skipped: SkippedRow[]) => void;
  /** Called once everything is checked, just before sampling starts (the CLI prints the run directory). */
  onStart?: (info: { dir: string; benchmarks: EvalBenchmark[]; engine: Engine }) => void;
}

export interface RunEvaluationResult extends EvalReport {
  /** The run directory (absolute). */
  dir: string;
}

/** The evaluation settings of a run configuration. */
export function evalSettingsOf(config: RunConfig): EvalSettings {
  const e = config.evaluation;
  return { samples: e.samples, temperature: e.temperature, topP: e.topP, maxTokens: e.maxTokens, prompt: e.prompt, aucBudget: e.aucBudget };
}

export interface LoadBenchmarksOptions {
  cwd?: string;
  /** Skip and count bad rows of the benchmarks' files instead of failing on the first (`--skip-bad-rows`). */
  skipBadRows?: boolean;
  /** Told about each benchmark's skipped rows (only called when some were skipped). */
  onSkippedRows?: (benchmark: string, skipped: SkippedRow[]) => void;
}

/**
 * Loads every benchmark of `config.evaluation.benchmarks`; unknown or empty benchmarks are a UserError. A
 * benchmark is named by its dataset's one name (an alias such as `world` becomes `world-test`), which keys its
 * records and seeds, so every spelling of a dataset gives the same samples.
 */
export async function loadBenchmarks(config: RunConfig, opts: LoadBenchmarksOptions = {}): Promise<EvalBenchmark[]> {
  const out: EvalBenchmark[] = [];
  const spelled = new Map<string, string>();
  for (const spec of config.evaluation.benchmarks) {
    const name = canonicalDatasetName(spec.name);
    const earlier = spelled.get(name);
    if (earlier !== undefined) {
      throw new UserError(`benchmark "${name}" is listed twice${earlier !== spec.name ? ` (as "${earlier}" and "${spec.name}", two names of one dataset)` : ""}`);
    }
    spelled.set(name, spec.name);
    let loaded;
    try {
      loaded = await loadDatasetSpec(spec, { dataDir: config.dataDir, cwd: opts.cwd, skipBadRows: opts.skipBadRows });
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`benchmark ${name}: ${err.message}`, err.exitCode);
      throw err;
    }
    if (loaded.skipped.length > 0) opts.onSkippedRows?.(name, loaded.skipped);
    if (loaded.problems.length === 0) {
      const filters = spec.levels ? ` (levels ${spec.levels.join(",")})` : "";
      throw new UserError(`benchmark ${name}: no problems left to evaluate${filters}`);
    }
    out.push({ name, problems: loaded.problems });
  }
  if (out.length === 0) throw new UserError("no benchmarks to evaluate (give --bench)");
  return out;
}

export async function runEvaluation(opts: RunEvaluationOptions): Promise<RunEvaluationResult> {
  const cwd = opts.cwd ?? process.cwd();
  const config = withResolvedModelPath(opts.config, cwd);
  const benchmarks = await loadBenchmarks(config, { cwd, skipBadRows: opts.skipBadRows, onSkippedRows: opts.onSkippedRows });
  const engine = opts.engine ?? (await openEngine(config.engine, { cwd }));
  try {
    const settings = evalSettingsOf(config);
    await checkPromptPreset(settings.prompt, engine);
    const warning = await contextWarning(engine, settings.maxTokens, "evaluation.maxTokens");
    if (warning !== null) opts.progress?.log(`warning: ${warning}`);
    const store = RunStore.openOrCreate(opts.outDir, {
      config,
      model: engine.identity,
      force: opts.force,
      command: opts.argv ? { argv: opts.argv } : undefined,
    });
    opts.onStart?.({ dir: store.dir, benchmarks, engine });
    return await withRun(store, async (s) => {
      const report = await evaluate({
        store: s,
        engine,
        benchmarks,
        settings,
        concurrency: config.engine.concurrency,
        progress: opts.progress,
        signal: opts.signal,
        onParamsChange: opts.force ? "archive" : "error",
        resumeCommand: opts.resumeCommand,
        handleSignals: opts.handleSignals,
      });
      return { ...report, dir: s.dir };
    });
  } finally {
    if (!opts.engine) await engine.close();
  }
}
