/**
 * A training run as a separate process, for the kill-and-resume test: trains the key→value task with a checkpoint
 * after every `--checkpoint-every` steps, always resuming from the checkpoint when one exists, and prints
 * "step N" on stdout after each step (the parent kills it at a random one).
 *
 *   node --import tsx test/train/train-child.ts --dir DIR --steps N --checkpoint-every K --threads T
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { initTf } from "../../src/model/tf.js";
import { LlamaModel } from "../../src/model/llama.js";
import { llamaParameters } from "../../src/train/llama.js";
import { ParallelGradientSource, siblingModule } from "../../src/train/parallel.js";
import { sftObjective } from "../../src/train/sft.js";
import { defaultTrainerConfig, train } from "../../src/train/trainer.js";
import { keyValueStrings, tinyConfig } from "./tasks.js";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    steps: { type: "string", default: "40" },
    "checkpoint-every": { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
  },
});
await initTf("wasm");
const data = keyValueStrings(64, 8, 11);
const model = LlamaModel.random(tinyConfig(), 5);
const params = llamaParameters(model);
const objective = sftObjective(tinyConfig());
const threads = Number(values.threads);
const source =
  threads > 1
    ? await ParallelGradientSource.create({
        params,
        objective,
        threads,
        replica: { module: siblingModule(new URL("../../src/train/parallel.ts", import.meta.url).href, "sft-replica"), args: { config: tinyConfig(), weights: model.getWeights() } },
      })
    : undefined;
await train({
  params,
  objective,
  examples: data,
  resume: true,
  gradientSource: source,
  config: {
    ...defaultTrainerConfig,
    steps: Number(values.steps),
    batchSize: 8,
    gradAccum: 2,
    lr: 5e-3,
    warmupSteps: 5,
    seed: 21,
    checkpointPath: join(values.dir!, "checkpoint.safetensors"),
    checkpointEvery: Number(values["checkpoint-every"]),
  },
  onStep: (r) => process.stdout.write(`step ${r.step}\n`),
});
await source?.close();
