/**
 * The squeeze pipeline from a resolved configuration: sample → select → refine → pairs, in one run directory.
 * `tokensqueeze squeeze` runs all four; `sample`, `select`, `refine` and `pairs` run one each on the same run.
 * Every stage resumes what is stored (Ctrl-C or SIGKILL at any point loses at most the items in flight), so
 * running the same command again continues, and a finished stage is skipped in a moment.
 *
 * Everything that can fail because of the user's input fails before any sampling starts: unknown datasets, a
 * missing model or unreachable engine, a prompt preset the model cannot use, an estimator the engine cannot
 * serve, a run directory holding other settings.
 */
import { join } from "node:path";
import type { RunConfig } from "../config/schema.js";
import { loadDatasetSpec } from "../data/index.js";
import type { Problem } from "../data/problem.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, withResolvedModelPath } from "../engines/factory.js";
import { checkPromptPreset } from "../sampling/prompts.js";
import { contextWarning } from "../sampling/sample-problem.js";
import { RunStore, withRun, type StageResult } from "../store/index.js";
import { UserError } from "../util/errors.js";
import type { ProgressReporter } from "../util/progress.js";
import { exportPairs, PairFormats, type PairExport, type PairFormat } from "./pairs.js";
import { refineSettingsOf, runRefineStage, runSampleStage, runSelectStage, type RefineDonor } from "./stages.js";
import { squeezeSummary, type SqueezeSummary } from "./summary.js";
import type { TrainSummary } from "./train.js";
import type { TrlResult } from "./train-trl.js";

export const SqueezeSteps = ["sample", "select", "refine", "pairs", "train"] as const;
export type SqueezeStep = (typeof SqueezeSteps)[number];

export interface SqueezeOptions {
  config: RunConfig;
  /** The run directory. */
  dir: string;
  /** Which steps to run, in pipeline order. */
  steps: readonly SqueezeStep[];
  /** Whether the run may be created (the first stage); later stages need an existing run. */
  create: boolean;
  /** Pair formats to export (default: both) and where (default: `<run>/pairs.<format>.jsonl`). */
  pairFormats?: readonly PairFormat[];
  pairsOut?: string;
  /** An engine already open (the caller closes it); else one is opened when a step needs it. */
  engine?: Engine;
  force?: boolean;
  argv?: readonly string[];
  progress?: ProgressReporter;
  signal?: AbortSignal;
  resumeCommand?: string;
  handleSignals?: boolean;
  cwd?: string;
  /** Gradient threads for stage 3 (default: one per core). */
  threads?: number;
  /** Runs whose refinements of the same responses may be reused (the ablation's arms share one refinement). */
  refineReuse?: readonly RefineDonor[];
  /** Stage 3 on the embedded trainer (default) or TRL (`accelerate launch`). */
  trainBackend?: "embedded" | "trl";
  /** TRL: only build the launch command. */
  dryRun?: boolean;
  /** TRL: an accelerate config file. */
  accelerateConfig?: string;
  onStart?: (info: { dir: string; engine: Engine | null; problems: number | null }) => void;
}

export interface SqueezeResult {
  dir: string;
  stages: StageResult[];
  exports: PairExport[];
  /** Stage 3 on the embedded trainer, when the steps included it. */
  training?: TrainSummary;
  /** Stage 3 on TRL: the launch command, and what the run reported unless it was a dry run. */
  trl?: { command: string; result?: TrlResult };
  summary: SqueezeSummary;
  seconds: number;
}

/** Loads the training problems of `config.datasets` (ids prefixed by the dataset name when there are several). */
export async function loadTrainingProblems(config: RunConfig, opts: { cwd?: string } = {}): Promise<Problem[]> {
  const several = config.datasets.length > 1;
  const out: Problem[] = [];
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const spec of config.datasets) {
    let loaded;
    try {
      loaded = await loadDatasetSpec(spec, { dataDir: config.dataDir, cwd: opts.cwd });
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`dataset ${spec.name}: ${err.message}`, err.exitCode);
      throw err;
    }
    // Keyed by the dataset's one name (an alias resolves to it), as evaluation keys its benchmarks.
    if (names.has(loaded.name)) throw new UserError(`dataset "${loaded.name}" is listed twice in datasets`);
    names.add(loaded.name);
    for (const p of loaded.problems) {
      const id = several ? `${loaded.name}/${p.id}` : p.id;
      if (ids.has(id)) throw new UserError(`dataset ${loaded.name}: problem id "${id}" appears twice`);
      ids.add(id);
      out.push({ ...p, id });
    }
  }
  if (out.length === 0) throw new UserError("no training problems: the datasets (config datasets) are empty after their filters");
  return out;
}

export function defaultPairsFile(dir: string, format: PairFormat): string {
  return join(dir, `pairs.${format}.jsonl`);
}

export async function runSqueeze(opts: SqueezeOptions): Promise<SqueezeResult> {
  const t0 = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const config = withResolvedModelPath(opts.config, cwd);
  const steps = SqueezeSteps.filter((s) => opts.steps.includes(s));
  const problems = steps.includes("sample") ? await loadTrainingProblems(config, { cwd }) : null;
  if (!opts.create && !RunStore.isRun(opts.dir)) throw new UserError(`--run ${opts.dir}: not a tokensqueeze run (start one with \`tokensqueeze sample --out ${opts.dir}\` or \`squeeze --out ${opts.dir}\`)`);
  const needsEngine = steps.includes("sample") || steps.includes("refine");
  const engine = opts.engine ?? (needsEngine ? await openEngine(config.engine, { cwd }) : null);
  try {
    if (engine !== null) {
      if (steps.includes("sample")) {
        await checkPromptPreset(config.sampling.prompt, engine);
        const warning = await contextWarning(engine, config.sampling.maxTokens, "sampling.maxTokens");
        if (warning !== null) opts.progress?.log(`warning: ${warning}`);
      }
      // An estimator the engine cannot serve fails now, not after sampling.
      if (steps.includes("refine")) await refineSettingsOf(config, engine);
    }
    const model = engine?.identity;
    const store = opts.create
      ? RunStore.openOrCreate(opts.dir, { config, model: model ?? { name: config.engine.model, engine: config.engine.kind }, force: opts.force, command: opts.argv ? { argv: opts.argv } : undefined })
      : RunStore.open(opts.dir, { config, ...(model ? { model } : {}), force: opts.force, command: opts.argv ? { argv: opts.argv } : undefined });
    opts.onStart?.({ dir: store.dir, engine, problems: problems?.length ?? null });
    return await withRun(store, async (s) => {
      const common = { store: s, config, progress: opts.progress, signal: opts.signal, force: opts.force, resumeCommand: opts.resumeCommand, handleSignals: opts.handleSignals };
      const stages: StageResult[] = [];
      if (problems !== null && engine !== null) stages.push(await runSampleStage({ ...common, engine, problems }));
      if (steps.includes("select")) stages.push(await runSelectStage(common));
      if (steps.includes("refine") && engine !== null) stages.push(await runRefineStage({ ...common, engine, reuse: opts.refineReuse }));
      const exports: PairExport[] = [];
      if (steps.includes("pairs")) {
        const formats = opts.pairFormats ?? PairFormats;
        if (opts.pairsOut !== undefined && formats.length !== 1) throw new UserError("--out for pairs names one file: give one --format");
        for (const f of formats) exports.push(exportPairs(s, f, opts.pairsOut ?? defaultPairsFile(s.dir, f)));
      }
      let training: TrainSummary | undefined;
      let trl: SqueezeResult["trl"];
      if (steps.includes("train") && opts.trainBackend === "trl") {
        const { trlLaunch, runTrl } = await import("./train-trl.js");
        const launch = trlLaunch(s, config, { accelerateConfig: opts.accelerateConfig, cwd });
        trl = { command: launch.command, ...(opts.dryRun ? {} : { result: await runTrl(launch, { progress: opts.progress, signal: opts.signal }) }) };
      } else if (steps.includes("train")) {
        // Loaded only here: it brings tfjs and the trainer.
        const { runTrainStage } = await import("./train.js");
        const done = await runTrainStage({ ...common, threads: opts.threads, cwd });
        stages.push(...done.stages);
        training = done.summary;
      }
      return { dir: s.dir, stages, exports, ...(training ? { training } : {}), ...(trl ? { trl } : {}), summary: squeezeSummary(s), seconds: (performance.now() - t0) / 1000 };
    });
  } finally {
    if (!opts.engine && engine !== null) await engine.close();
  }
}
