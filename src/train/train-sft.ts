/**
 * The `train-sft` command's driver: load an HF folder and a JSONL file, train with the embedded trainer, write an
 * HF folder. Kept apart from the CLI module so the command's --help never loads tfjs.
 */
import { existsSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { RunConfig } from "../config/schema.js";
import { resolveModelPath } from "../engines/factory.js";
import { ChatTemplate } from "../model/chat.js";
import { loadModelFolder, saveModelFolder, trainingEosTokenId } from "../model/folder.js";
import { LlamaModel } from "../model/llama.js";
import { initTf } from "../model/tf.js";
import { UserError } from "../util/errors.js";
import { skippedRowsWarning } from "../data/records.js";
import { llamaParameters } from "./llama.js";
import { gradientSourceFor, siblingModule } from "./parallel.js";
import { readSftJsonl } from "./sft-data.js";
import type { SftReplicaArgs } from "./sft-replica.js";
import { sftObjective } from "./sft.js";
import { formatDuration, throttledProgress, train, TrainerResumeError } from "./trainer.js";
import { stepShape, trainerConfigFrom } from "./trainer-config.js";

export const CHECKPOINT_FILE = "trainer-checkpoint.safetensors";

export interface TrainSftRequest {
  /** The resolved run configuration: engine.model is the starting folder, `training` the settings, seed the data order. */
  config: RunConfig;
  data: string;
  out: string;
  threads?: number;
  resume: boolean;
  /** Skip and count bad data rows instead of stopping at the first (`--skip-bad-rows`). */
  skipBadRows?: boolean;
  /** Resolves a relative engine.model (default: the working directory). */
  cwd?: string;
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
  const { engine, training: t, seed } = req.config;
  if (engine.kind !== "embedded") throw new UserError(`train-sft trains a model folder with the embedded trainer; the config's engine.kind is ${engine.kind}`);
  const modelDir = resolveModelPath(engine.model, req.cwd ?? process.cwd());
  if (!existsSync(modelDir)) throw new UserError(`model folder not found: ${engine.model} (looked at ${modelDir})`);
  if (resolve(req.out) === modelDir) throw new UserError("--out must differ from --model (the starting weights would be overwritten)");
  const checkpointPath = join(req.out, CHECKPOINT_FILE);
  if (!req.resume && existsSync(checkpointPath)) {
    throw new UserError(`${req.out} holds a checkpoint of an earlier run: pass --resume to continue it, or choose another --out`);
  }
  const folder = loadModelFolder(modelDir);
  const eosTokenId = trainingEosTokenId(folder);
  // training.maxLength, within the model's context (the schema's default is the paper's 9000).
  const maxLength = Math.min(t.maxLength, folder.config.maxPositionEmbeddings);
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

  const shape = stepShape(t, data.examples.length);
  const { steps, perStep } = shape;
  const config = trainerConfigFrom(t, shape, { seed, checkpointPath });

  await initTf("wasm");
  const model = LlamaModel.fromWeights(folder.config, folder.weights);
  const params = llamaParameters(model);
  const objective = sftObjective(folder.config);
  // More threads than examples per step would leave some idle.
  const threads = Math.max(1, Math.min(req.threads ?? Math.min(8, availableParallelism()), perStep));
  const replicaArgs: SftReplicaArgs = { config: folder.config, weights: folder.weights };
  const source = await gradientSourceFor({ params, objective, threads, replica: { module: siblingModule(import.meta.url, "sft-replica"), args: replicaArgs } });
  req.log(
    `train-sft: ${data.examples.length} examples, ${steps} steps of ${shape.micro}×${shape.gradAccum} examples, lr ${t.learningRate}, ${threads} thread(s)` +
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
