/**
 * `tokensqueeze train-sft --model <folder> --data <texts.jsonl> --out <folder>`: supervised fine-tuning of an HF
 * Llama folder with the embedded trainer (AdamW, warmup + decay, gradient accumulation, clipping, data-parallel
 * worker threads). Writes an HF folder of the same format to --out; a checkpoint in --out lets `--resume`
 * continue a killed run to exactly the weights an uninterrupted run would reach.
 */
import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { parseBounded, skipBadRowsOption } from "../options.js";

interface TrainSftOptions {
  model: string;
  data: string;
  out: string;
  steps?: string;
  epochs: string;
  lr: string;
  batchSize: string;
  gradAccum: string;
  seed: string;
  warmup?: string;
  decay: string;
  minLrRatio: string;
  weightDecay: string;
  maxGradNorm: string;
  maxLength?: string;
  checkpointEvery: string;
  threads?: string;
  resume?: boolean;
  skipBadRows?: boolean;
  json?: boolean;
}


export function register(program: Command): void {
  program
    .command("train-sft")
    .description("supervised fine-tuning of an HF Llama model folder with the embedded trainer (writes an HF folder)")
    .requiredOption("--model <folder>", "HF model folder to start from")
    .requiredOption("--data <file>", 'JSONL: {"text"} | {"prompt","completion"} (loss on the completion) | {"messages"} (loss on the last assistant turn)')
    .requiredOption("--out <folder>", "where the trained HF model folder (and the resumable checkpoint) go")
    .option("--steps <n>", "optimizer steps (default: --epochs over the data)")
    .option("--epochs <n>", "passes over the data when --steps is not given", "1")
    .option("--lr <lr>", "peak learning rate", "1e-4")
    .option("--batch-size <n>", "examples per micro-batch", "8")
    .option("--grad-accum <n>", "micro-batches per optimizer step", "1")
    .option("--seed <int>", "seeds the data order", "0")
    .option("--warmup <n>", "linear warmup steps (default: 5% of the steps)")
    .option("--decay <kind>", "after warmup: cosine | linear | constant", "cosine")
    .option("--min-lr-ratio <r>", "final learning rate as a fraction of --lr", "0.1")
    .option("--weight-decay <w>", "AdamW decoupled weight decay (matrices only)", "0.01")
    .option("--max-grad-norm <g>", "clip the global gradient norm (0 disables)", "1")
    .option("--max-length <n>", "cut longer examples to n tokens (default: the model's max_position_embeddings)")
    .option("--checkpoint-every <n>", "write the resumable checkpoint every n steps", "50")
    .option("--threads <n>", "gradient threads (default: one per core, at most 8)")
    .option("--resume", "continue from the checkpoint in --out")
    .addOption(skipBadRowsOption())
    .option("--json", "print a JSON summary on stdout")
    .action(async (opts: TrainSftOptions) => {
      const { runTrainSft } = await import("../../train/train-sft.js");
      const decay = opts.decay;
      if (decay !== "cosine" && decay !== "linear" && decay !== "constant") throw new UserError(`--decay: expected cosine, linear or constant, got "${decay}"`);
      const summary = await runTrainSft({
        model: opts.model,
        data: opts.data,
        out: opts.out,
        steps: opts.steps !== undefined ? parseBounded("--steps", opts.steps, { integer: true, min: 1 }) : undefined,
        epochs: parseBounded("--epochs", opts.epochs, { min: Number.MIN_VALUE }),
        lr: parseBounded("--lr", opts.lr, { min: Number.MIN_VALUE }),
        batchSize: parseBounded("--batch-size", opts.batchSize, { integer: true, min: 1 }),
        gradAccum: parseBounded("--grad-accum", opts.gradAccum, { integer: true, min: 1 }),
        seed: parseBounded("--seed", opts.seed, { integer: true }),
        warmupSteps: opts.warmup !== undefined ? parseBounded("--warmup", opts.warmup, { integer: true, min: 0 }) : undefined,
        decay,
        minLrRatio: parseBounded("--min-lr-ratio", opts.minLrRatio, { min: 0, max: 1 }),
        weightDecay: parseBounded("--weight-decay", opts.weightDecay, { min: 0 }),
        maxGradNorm: parseBounded("--max-grad-norm", opts.maxGradNorm, { min: 0 }),
        maxLength: opts.maxLength !== undefined ? parseBounded("--max-length", opts.maxLength, { integer: true, min: 2 }) : undefined,
        checkpointEvery: parseBounded("--checkpoint-every", opts.checkpointEvery, { integer: true, min: 1 }),
        threads: opts.threads !== undefined ? parseBounded("--threads", opts.threads, { integer: true, min: 1 }) : undefined,
        resume: opts.resume ?? false,
        skipBadRows: opts.skipBadRows ?? false,
        log: (line) => process.stderr.write(line),
      });
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    });
}
