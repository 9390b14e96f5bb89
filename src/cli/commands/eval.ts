/**
 * `tokensqueeze eval`: the paper's metrics (Acc, Len-T, Len-A, AUC, pass@k, truncation, per level/subject)
 * for a model on benchmarks. Flags override the run configuration (preset → --config → --set → flags), whose
 * defaults are METHOD.md's: 16 samples, temperature 0.6, top_p 0.95, 32768 max tokens, the paper's prompt.
 */
import type { Command } from "commander";
import { collect, parseList, parseNumber, positiveInt } from "../options.js";
import { UserError } from "../../util/errors.js";

interface EvalFlags {
  model?: string;
  engine?: string;
  baseUrl?: string;
  bench?: string;
  samples?: string;
  temperature?: string;
  topP?: string;
  maxTokens?: string;
  aucBudget?: string;
  prompt?: string;
  limit?: string;
  levels?: string;
  seed?: string;
  concurrency?: string;
  out?: string;
  dataDir?: string;
  preset?: string;
  config?: string;
  set: string[];
  force?: boolean;
  progress?: string;
  json?: boolean;
}


/** The flags as config overrides (key path → typed value), applied after --set. */
export function flagOverrides(flags: EvalFlags, base: { benchmarks: Array<{ name: string }>; engineKind: string }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const kind = flags.engine ?? (flags.baseUrl !== undefined ? "openai" : base.engineKind);
  if (flags.engine !== undefined || flags.baseUrl !== undefined) o["engine.kind"] = kind;
  if (kind === "openai") {
    // For a server, engine.model is its base URL and --model the served model name.
    if (flags.baseUrl !== undefined) o["engine.model"] = flags.baseUrl;
    if (flags.model !== undefined) o["engine.servedModelName"] = flags.model;
  } else {
    if (flags.baseUrl !== undefined) throw new UserError(`--base-url applies to --engine openai, not --engine ${kind}`);
    if (flags.model !== undefined) o["engine.model"] = flags.model;
  }
  if (flags.samples !== undefined) o["evaluation.samples"] = positiveInt("--samples", flags.samples);
  if (flags.temperature !== undefined) o["evaluation.temperature"] = parseNumber("--temperature", flags.temperature, (x) => x >= 0, "a number ≥ 0");
  if (flags.topP !== undefined) o["evaluation.topP"] = parseNumber("--top-p", flags.topP, (x) => x > 0 && x <= 1, "a number in (0, 1]");
  if (flags.maxTokens !== undefined) o["evaluation.maxTokens"] = positiveInt("--max-tokens", flags.maxTokens);
  if (flags.aucBudget !== undefined) o["evaluation.aucBudget"] = positiveInt("--auc-budget", flags.aucBudget);
  if (flags.prompt !== undefined) {
    if (flags.prompt !== "paper" && flags.prompt !== "chat") throw new UserError(`--prompt: expected paper or chat, got "${flags.prompt}"`);
    o["evaluation.prompt"] = flags.prompt;
  }
  if (flags.seed !== undefined) o["seed"] = parseNumber("--seed", flags.seed, (x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff, "an integer 0 … 4294967295");
  if (flags.concurrency !== undefined) o["engine.concurrency"] = positiveInt("--concurrency", flags.concurrency);
  if (flags.dataDir !== undefined) o["dataDir"] = flags.dataDir;
  const limit = flags.limit !== undefined ? positiveInt("--limit", flags.limit) : undefined;
  const levels = flags.levels !== undefined ? parseList("--levels", flags.levels).map((l) => positiveInt("--levels", l)) : undefined;
  if (flags.bench !== undefined || limit !== undefined || levels !== undefined) {
    const names = flags.bench !== undefined ? parseList("--bench", flags.bench) : base.benchmarks.map((b) => b.name);
    o["evaluation.benchmarks"] = names.map((name) => {
      const existing = base.benchmarks.find((b) => b.name === name) ?? { name };
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
  program
    .command("eval")
    .description("evaluate a model: Acc, Len-T, Len-A, AUC, pass@k, truncation per benchmark (resumable; samples kept in the run)")
    .option("--model <folder>", "model folder (embedded engine) or served model name (--engine openai); default from the config")
    .option("--engine <kind>", "embedded | openai | llamacpp (default from the config: embedded)")
    .option("--base-url <url>", "OpenAI-compatible server (vLLM, SGLang), e.g. http://localhost:8000/v1 (implies --engine openai)")
    .option("--bench <list>", "benchmarks, comma-separated: math500, aime24, aime25, amc23, gsm8k, world (the built-in world's held-out set), a registered dataset or a file (default: math500,aime24,aime25)")
    .option("--samples <n>", "samples per problem (default 16)")
    .option("--temperature <t>", "sampling temperature (default 0.6)")
    .option("--top-p <p>", "nucleus sampling (default 0.95)")
    .option("--max-tokens <n>", "max new tokens per sample (default 32768); also the AUC budget B")
    .option("--auc-budget <n>", "the AUC budget B when it should differ from --max-tokens")
    .option("--prompt <preset>", "paper (the paper's <think>/<answer> template) | chat (the model's chat template); default paper")
    .option("--limit <n>", "only the first n problems of each benchmark (after --levels)")
    .option("--levels <list>", "only these difficulty levels, e.g. 1,2")
    .option("--seed <n>", "run seed (default 42): every sample's randomness derives from (seed, benchmark, problem)")
    .option("--concurrency <n>", "problems in flight at once, so the engine can batch (default from the config)")
    .option("--out <dir>", "run directory; rerun with the same --out to resume (default runs/eval-<model>-<time>)")
    .option("--data-dir <dir>", "where the benchmark files are (default TOKENSQUEEZE_DATA or ../shared/data)")
    .option("--preset <name>", "start from a named config preset (see `config presets`)")
    .option("--config <file>", "YAML or JSON config file")
    .option("--set <key.path=value>", "override a config value (repeatable)", collect, [])
    .option("--force", "adopt changed settings in an existing run (old samples are archived, not deleted)")
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--json", "print the metrics as JSON on stdout, keyed by benchmark")
    .action(async (flags: EvalFlags) => {
      const { resolveConfig, parseOverride } = await import("../../config/index.js");
      const { runEvaluation } = await import("../../eval/run.js");
      const { evalJson, formatEvalTable } = await import("../../eval/format.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { shellQuote } = await import("../../store/index.js");

      // Layers: preset → --config → --set → flags (the flags win).
      const fromSet: Record<string, unknown> = {};
      for (const s of flags.set) {
        const { key, value } = parseOverride(s);
        fromSet[key] = value;
      }
      const base = resolveConfig({ preset: flags.preset, file: flags.config, overrides: fromSet });
      const overrides = flagOverrides(flags, { benchmarks: base.evaluation.benchmarks, engineKind: base.engine.kind });
      const config = resolveConfig({ preset: flags.preset, file: flags.config, overrides: { ...fromSet, ...overrides } });

      let mode;
      try {
        mode = progressModeFrom({ progress: flags.progress, json: flags.json });
      } catch (err) {
        throw new UserError(err instanceof Error ? err.message : String(err));
      }
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
        resumeCommand: ["tokensqueeze", ...resumeArgv].map(shellQuote).join(" "),
        onStart: ({ dir, benchmarks, engine }) => {
          const total = benchmarks.reduce((a, b) => a + b.problems.length, 0);
          progress.log(
            `eval: ${engine.identity.name} (${engine.identity.engine}) on ${benchmarks.map((b) => `${b.name}×${b.problems.length}`).join(", ")}: ` +
              `${total} problems × ${config.evaluation.samples} samples → ${dir}`,
          );
        },
      });
      process.stdout.write(flags.json ? evalJson(result.benchmarks) : formatEvalTable(result.benchmarks));
      if (!flags.json) process.stderr.write(`samples and metrics are in ${result.dir}\n`);
    });
}
