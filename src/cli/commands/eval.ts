/**
 * `tokensqueeze eval`: the paper's metrics (Acc, Len-T, Len-A, AUC, pass@k, truncation, per level/subject)
 * for a model on benchmarks. The run configuration comes from src/cli/run-flags.ts (preset → --config → --set →
 * flags); every default is the config schema's `evaluation` section (METHOD.md's: 16 samples, temperature 0.6,
 * top_p 0.95, 32768 max tokens, the paper's prompt). Only the benchmark selection (--bench, --limit, --levels)
 * and --auc-budget are eval's own flags.
 */
import type { Command } from "commander";
import type { RunConfig } from "../../config/schema.js";
import { parseList, positiveInt, skipBadRowsOption } from "../options.js";
import { addRunFlags, addSamplingFlags, resolveRunConfig, type RunFlags, type SamplingFlags } from "../run-flags.js";

interface EvalFlags extends RunFlags, SamplingFlags {
  bench?: string;
  aucBudget?: string;
  limit?: string;
  levels?: string;
  out?: string;
  force?: boolean;
  skipBadRows?: boolean;
  progress?: string;
  json?: boolean;
}

/**
 * eval's own flags as config overrides (the benchmark list and the AUC budget), over the resolved base. A
 * benchmark named by --bench keeps the settings the base gives it (e.g. a preset's limit), found by its one
 * name (`canonical`), so `--bench world` finds the preset's `world-test`.
 */
export function evalOverrides(flags: EvalFlags, base: RunConfig, canonical: (name: string) => string = (n) => n): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (flags.aucBudget !== undefined) o["evaluation.aucBudget"] = positiveInt("--auc-budget", flags.aucBudget);
  const limit = flags.limit !== undefined ? positiveInt("--limit", flags.limit) : undefined;
  const levels = flags.levels !== undefined ? parseList("--levels", flags.levels).map((l) => positiveInt("--levels", l)) : undefined;
  if (flags.bench !== undefined || limit !== undefined || levels !== undefined) {
    const benchmarks = base.evaluation.benchmarks;
    const names = flags.bench !== undefined ? parseList("--bench", flags.bench) : benchmarks.map((b) => b.name);
    o["evaluation.benchmarks"] = names.map((name) => {
      const existing = benchmarks.find((b) => canonical(b.name) === canonical(name)) ?? { name };
      return { ...existing, ...(limit !== undefined ? { limit } : {}), ...(levels !== undefined ? { levels } : {}) };
    });
  }
  return o;
}

function defaultOutDir(model: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const name = model.replace(/\/+$/, "").split(/[\\/]/).pop()!.replace(/[^A-Za-z0-9._-]+/g, "_") || "model";
  return `runs/eval-${name}-${stamp}`;
}

export function register(program: Command): void {
  const cmd = program
    .command("eval")
    .description("evaluate a model: Acc, Len-T, Len-A, AUC, pass@k, truncation per benchmark (resumable; samples kept in the run)")
    .option(
      "--bench <list>",
      "benchmarks, comma-separated: math500, aime24, aime25, amc23, gsm8k, world-test (the built-in world's held-out set; `world` is another name for it), a registered dataset or a file (config evaluation.benchmarks)",
    )
    .option("--limit <n>", "only the first n problems of each benchmark (after --levels)")
    .option("--levels <list>", "only these difficulty levels, e.g. 1,2")
    .option("--auc-budget <n>", "the AUC budget B when it should differ from --max-tokens (config evaluation.aucBudget)");
  addSamplingFlags(addRunFlags(cmd), "evaluation")
    .option("--out <dir>", "run directory; rerun with the same --out to resume (default runs/eval-<model>-<time>)")
    .option("--force", "adopt changed settings in an existing run (old samples are archived, not deleted)")
    .addOption(skipBadRowsOption())
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--json", "print the metrics as JSON on stdout, keyed by benchmark")
    .action(async (flags: EvalFlags) => {
      const { runEvaluation } = await import("../../eval/run.js");
      const { evalJson, formatEvalErrors, formatEvalTable } = await import("../../eval/format.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { commandLine } = await import("../../store/index.js");
      const { canonicalDatasetName, skippedRowsWarning } = await import("../../data/index.js");

      const config = await resolveRunConfig(flags, { sampling: "evaluation", extra: (base) => evalOverrides(flags, base, canonicalDatasetName) });
      const mode = progressModeFrom({ progress: flags.progress, json: flags.json });
      const progress = createProgress({ mode });
      const outDir = flags.out ?? defaultOutDir(config.engine.servedModelName ?? config.engine.model);
      const argv = process.argv.slice(2);
      const resumeArgv = flags.out === undefined ? [...argv, "--out", outDir] : argv;
      const result = await runEvaluation({
        config,
        outDir,
        force: flags.force,
        argv: resumeArgv,
        progress,
        resumeCommand: commandLine(resumeArgv),
        skipBadRows: flags.skipBadRows,
        // Before sampling starts (no progress bar yet), in every progress mode, as `data inspect` prints it.
        onSkippedRows: (benchmark, skipped) => process.stderr.write(skippedRowsWarning(benchmark, skipped)),
        onStart: ({ dir, benchmarks, engine }) => {
          const total = benchmarks.reduce((a, b) => a + b.problems.length, 0);
          progress.log(
            `eval: ${engine.identity.name} (${engine.identity.engine}) on ${benchmarks.map((b) => `${b.name}×${b.problems.length}`).join(", ")}: ` +
              `${total} problems × ${config.evaluation.samples} samples → ${dir}`,
          );
        },
      });
      process.stdout.write(flags.json ? evalJson(result.benchmarks, result.errors) : formatEvalTable(result.benchmarks));
      if (!flags.json) process.stderr.write(formatEvalErrors(result.errors));
      if (!flags.json) process.stderr.write(`samples and metrics are in ${result.dir}\n`);
    });
}
