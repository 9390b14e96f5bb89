/**
 * The `train-sft` command's driver: load an HF folder and a JSONL file, train with the embedded trainer, write an
 * HF folder. Kept apart from the CLI module so the command's --help never loads tfjs.
 */
import { existsSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { ChatTemplate } from "../model/chat.js";
import { loadModelFolder, saveModelFolder, trainingEosTokenId } from "../model/folder.js";
import { LlamaModel } from "../model/llama.js";
import { initTf } from "../model/tf.js";
import { UserError } from "../util/errors.js";
import { skippedRowsWarning } from "../data/records.js";
import { defaultAdamWConfig } from "./adamw.js";
import { llamaParameters } from "./llama.js";
import { gradientSourceFor, siblingModule } from "./parallel.js";
import { readSftJsonl } from "./sft-data.js";
import type { SftReplicaArgs } from "./sft-replica.js";
import { sftObjective } from "./sft.js";
import type { DecayKind } from "./schedule.js";
import { formatDuration, throttledProgress, train, TrainerResumeError, type TrainerConfig } from "./trainer.js";

export const CHECKPOINT_FILE = "trainer-checkpoint.safetensors";

export interface TrainSftRequest {
  model: string;
  data: string;
  out: string;
  steps?: number;
  epochs: number;
  lr: number;
  batchSize: number;
  gradAccum: number;
  seed: number;
  warmupSteps?: number;
  decay: DecayKind;
  minLrRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  maxLength?: number;
  checkpointEvery: number;
  threads?: number;
  resume: boolean;
  /** Skip and count bad data rows instead of stopping at the first (`--skip-bad-rows`). */
  skipBadRows?: boolean;
  log: (line: string) => void;
}

export interface TrainSftSummary {
  out: string;
  steps: number;
  resumedFromStep: number;
  examples: number;
  finalLoss: number | null;
  finalAccuracy: number | null;
  tokensPerSecond: number | null;
  seconds: number;
  threads: number;
}

export async function runTrainSft(req: TrainSftRequest): Promise<TrainSftSummary> {
  const started = performance.now();
  if (resolve(req.out) === resolve(req.model)) throw new UserError("--out must differ from --model (the starting weights would be overwritten)");
  const checkpointPath = join(req.out, CHECKPOINT_FILE);
  if (!req.resume && existsSync(checkpointPath)) {
    throw new UserError(`${req.out} holds a checkpoint of an earlier run: pass --resume to continue it, or choose another --out`);
  }
  const folder = loadModelFolder(req.model);
  const eosTokenId = trainingEosTokenId(folder);
  const maxLength = req.maxLength ?? folder.config.maxPositionEmbeddings;
  if (maxLength > folder.config.maxPositionEmbeddings) {
    throw new UserError(`--max-length ${maxLength} exceeds the model's max_position_embeddings (${folder.config.maxPositionEmbeddings})`);
  }
  const data = readSftJsonl(req.data, {
    tokenizer: folder.tokenizer,
    eosTokenId,
    chat: folder.chatTemplate !== null ? new ChatTemplate(folder.chatTemplate, folder.tokenizer.files.tokenizerConfig) : null,
    maxLength,
    skipBadRows: req.skipBadRows,
  });
  if (data.skipped.length > 0) req.log(skippedRowsWarning(req.data, data.skipped));
  if (data.truncated > 0) req.log(`warning: ${data.truncated} example(s) cut to ${maxLength} tokens\n`);
  if (data.dropped > 0) req.log(`warning: ${data.dropped} example(s) skipped: no target tokens left within ${maxLength} tokens\n`);

  const perStep = req.batchSize * req.gradAccum;
  const steps = req.steps ?? Math.max(1, Math.ceil((req.epochs * data.examples.length) / perStep));
  const config: TrainerConfig = {
    steps,
    batchSize: req.batchSize,
    gradAccum: req.gradAccum,
    seed: req.seed,
    lr: req.lr,
    warmupSteps: req.warmupSteps ?? Math.floor(steps * 0.05),
    decay: req.decay,
    minLrRatio: req.minLrRatio,
    adamw: { ...defaultAdamWConfig, weightDecay: req.weightDecay },
    maxGradNorm: req.maxGradNorm,
    shuffle: true,
    checkpointPath,
    checkpointEvery: req.checkpointEvery,
  };
  if (config.warmupSteps >= steps && steps > 1) throw new UserError(`--warmup ${config.warmupSteps} must be below the number of steps (${steps})`);

  await initTf("wasm");
  const model = LlamaModel.fromWeights(folder.config, folder.weights);
  const params = llamaParameters(model);
  const objective = sftObjective(folder.config);
  // More threads than examples per step would leave some idle.
  const threads = Math.max(1, Math.min(req.threads ?? Math.min(8, availableParallelism()), perStep));
  const replicaArgs: SftReplicaArgs = { config: folder.config, weights: folder.weights };
  const source = await gradientSourceFor({ params, objective, threads, replica: { module: siblingModule(import.meta.url, "sft-replica"), args: replicaArgs } });
  req.log(
    `train-sft: ${data.examples.length} examples, ${steps} steps of ${req.batchSize}×${req.gradAccum} examples, lr ${req.lr}, ${threads} thread(s)` +
      (req.resume && existsSync(checkpointPath) ? ", resuming from the checkpoint" : "") +
      "\n",
  );
  let result;
  try {
    result = await train({
      params,
      objective,
      examples: data.examples,
      config,
      resume: req.resume,
      gradientSource: source,
      // Resuming on other data or from other starting weights would silently produce a different model.
      fingerprint: { data: data.fingerprint, model: folder.weightsSha256, maxLength },
      onStep: throttledProgress(req.log),
    });
  } catch (err) {
    if (err instanceof TrainerResumeError) throw new UserError(err.message);
    throw err;
  } finally {
    await source.close();
  }
  saveModelFolder(req.out, {
    config: folder.config,
    weights: model.getWeights(),
    tokenizer: folder.tokenizer.files,
    generationConfig: folder.generationConfig,
  });
  model.dispose();
  // A finished run needs no temporary checkpoint files; the checkpoint itself stays so --resume is a no-op.
  rmSync(`${checkpointPath}.tmp-${process.pid}`, { force: true });
  const last = result.history.at(-1);
  const seconds = (performance.now() - started) / 1000;
  req.log(`train-sft: wrote ${req.out} after ${result.steps} steps (${formatDuration(seconds * 1000)})\n`);
  return {
    out: req.out,
    steps: result.steps,
    resumedFromStep: result.resumedFromStep,
    examples: data.examples.length,
    finalLoss: last?.loss ?? null,
    finalAccuracy: last?.metrics.accuracy ?? null,
    tokensPerSecond: last?.tokensPerSecond ?? null,
    seconds,
    threads,
  };
}
