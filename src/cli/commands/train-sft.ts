/**
 * `tokensqueeze train-sft --data <texts.jsonl> --out <folder> [--model <folder>]`: supervised fine-tuning of an HF
 * Llama folder with the embedded trainer (AdamW, warmup + decay, gradient accumulation, clipping, data-parallel
 * worker threads). Writes an HF folder of the same format to --out; a checkpoint in --out lets `--resume`
 * continue a killed run to exactly the weights an uninterrupted run would reach.
 *
 * Settings are the run config's `training` section, like `train`'s: preset → --config → --set → the flags below,
 * each a spelling of one config key (the defaults are the schema's, shown by `config show`).
 */
import type { Command } from "commander";
import { DecayKinds } from "../../config/schema.js";
import { UserError } from "../../util/errors.js";
import { parseBounded, parseNumber, positiveInt, skipBadRowsOption } from "../options.js";
import { addConfigFlags, resolveRunConfig, type RunFlags } from "../run-flags.js";

interface TrainSftOptions extends Pick<RunFlags, "preset" | "config" | "set" | "model" | "seed"> {
  data: string;
  out: string;
  steps?: string;
  epochs?: string;
  lr?: string;
  batchSize?: string;
  globalBatchSize?: string;
  warmupRatio?: string;
  decay?: string;
  minLrRatio?: string;
  weightDecay?: string;
  maxGradNorm?: string;
  maxLength?: string;
  checkpointEvery?: string;
  threads?: string;
  resume?: boolean;
  skipBadRows?: boolean;
  json?: boolean;
}

/** The training flags as config overrides. */
function trainingOverrides(o: TrainSftOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fraction = (flag: string, raw: string): number => parseNumber(flag, raw, (x) => x >= 0 && x <= 1, "a number in [0, 1]");
  if (o.steps !== undefined) out["training.steps"] = positiveInt("--steps", o.steps);
  if (o.epochs !== undefined) out["training.epochs"] = positiveInt("--epochs", o.epochs);
  if (o.lr !== undefined) out["training.learningRate"] = parseNumber("--lr", o.lr, (x) => x > 0, "a number > 0");
  if (o.batchSize !== undefined) out["training.microBatchSize"] = positiveInt("--batch-size", o.batchSize);
  if (o.globalBatchSize !== undefined) out["training.globalBatchSize"] = positiveInt("--global-batch-size", o.globalBatchSize);
  if (o.warmupRatio !== undefined) out["training.warmupRatio"] = fraction("--warmup-ratio", o.warmupRatio);
  if (o.decay !== undefined) {
    if (!(DecayKinds as readonly string[]).includes(o.decay)) throw new UserError(`--decay: expected ${DecayKinds.join(", ")}, got "${o.decay}"`);
    out["training.decay"] = o.decay;
  }
  if (o.minLrRatio !== undefined) out["training.minLrRatio"] = fraction("--min-lr-ratio", o.minLrRatio);
  if (o.weightDecay !== undefined) out["training.weightDecay"] = parseNumber("--weight-decay", o.weightDecay, (x) => x >= 0, "a number ≥ 0");
  if (o.maxGradNorm !== undefined) out["training.maxGradNorm"] = parseNumber("--max-grad-norm", o.maxGradNorm, (x) => x >= 0, "a number ≥ 0");
  if (o.maxLength !== undefined) out["training.maxLength"] = parseBounded("--max-length", o.maxLength, { integer: true, min: 2 });
  if (o.checkpointEvery !== undefined) out["training.checkpointEvery"] = positiveInt("--checkpoint-every", o.checkpointEvery);
  return out;
}

export function register(program: Command): void {
  const cmd = program
    .command("train-sft")
    .description("supervised fine-tuning of an HF Llama model folder with the embedded trainer (writes an HF folder; settings: the config's training section)")
    .requiredOption("--data <file>", 'JSONL: {"text"} | {"prompt","completion"} (loss on the completion) | {"messages"} (loss on the last assistant turn)')
    .requiredOption("--out <folder>", "where the trained HF model folder (and the resumable checkpoint) go")
    .option("--model <folder>", "HF model folder to start from (config engine.model)")
    .option("--seed <n>", "seeds the data order (config seed)")
    .option("--steps <n>", "optimizer steps (config training.steps; default: training.epochs over the data)")
    .option("--epochs <n>", "passes over the data when no step count is set (config training.epochs)")
    .option("--lr <lr>", "peak learning rate (config training.learningRate)")
    .option("--batch-size <n>", "examples per forward pass (config training.microBatchSize)")
    .option("--global-batch-size <n>", "examples per optimizer step, by gradient accumulation (config training.globalBatchSize)")
    .option("--warmup-ratio <r>", "linear warmup as a share of the steps (config training.warmupRatio)")
    .option("--decay <kind>", `after warmup: ${DecayKinds.join(" | ")} (config training.decay)`)
    .option("--min-lr-ratio <r>", "final learning rate as a fraction of the peak (config training.minLrRatio)")
    .option("--weight-decay <w>", "AdamW decoupled weight decay, matrices only (config training.weightDecay)")
    .option("--max-grad-norm <g>", "clip the global gradient norm, 0 disables (config training.maxGradNorm)")
    .option("--max-length <n>", "cut longer examples to n tokens, at most the model's context (config training.maxLength)")
    .option("--checkpoint-every <n>", "write the resumable checkpoint every n steps (config training.checkpointEvery)")
    .option("--threads <n>", "gradient threads (default: one per core, at most 8)")
    .option("--resume", "continue from the checkpoint in --out")
    .addOption(skipBadRowsOption())
    .option("--json", "print a JSON summary on stdout");
  addConfigFlags(cmd).action(async (opts: TrainSftOptions) => {
    const config = await resolveRunConfig({ preset: opts.preset, config: opts.config, set: opts.set, model: opts.model, seed: opts.seed }, { extra: () => trainingOverrides(opts) });
    const { runTrainSft } = await import("../../train/train-sft.js");
    const summary = await runTrainSft({
      config,
      data: opts.data,
      out: opts.out,
      threads: opts.threads !== undefined ? positiveInt("--threads", opts.threads) : undefined,
      resume: opts.resume ?? false,
      skipBadRows: opts.skipBadRows ?? false,
      log: (line) => process.stderr.write(line),
    });
    if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  });
}
