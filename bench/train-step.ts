/**
 * Time of one stage-3 optimizer step of the embedded trainer on a real model folder (the demo's
 * models/world-base by default): `pairs` preference pairs of up to ~1024 tokens, DPO-L + SFT, micro-batches of
 * `micro` pairs accumulated to the step, then clipping and AdamW — what `tokensqueeze train` runs per step.
 *
 *   node --import tsx bench/train-step.ts [--model models/world-base] [--pairs 16] [--micro 2] [--threads 1]
 *        [--steps 3] [--template 83] [--repeats 1]
 *
 * The pairs are synthetic (seeded random token ids) shaped like the demo's: a 100-token prompt, a chosen response
 * of 150–350 tokens and a rejected one of 250–512 (the demo samples at most 512 new tokens), masked on the
 * responses; only their lengths matter for speed. Every demo prompt starts with the same 83-token template (the
 * paper's prompt in the built-in tokenizer), which the trainer computes once per micro-batch: the script times the
 * same steps twice, with prompts that start with one shared `--template`-token prefix and with prompts that share
 * nothing (the baseline: the same lengths, nothing to share), and prints both and their ratio. The first step of
 * each warms up (JIT, wasm compilation); the figures are the medians of the following steps, with the load average.
 * `--repeats R` alternates the two runs R times and also prints the median ratio: a shared machine's load drifts
 * between runs, and one pair of runs can be off by more than the effect.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadModelFolder } from "../src/model/folder.js";
import { LlamaModel } from "../src/model/llama.js";
import { initTf } from "../src/model/tf.js";
import { llamaParameters } from "../src/train/llama.js";
import { gradientSourceFor, siblingModule } from "../src/train/parallel.js";
import { preferenceObjective, type PairExample, type PreferenceSettings } from "../src/train/preference.js";
import { defaultTrainerConfig, train } from "../src/train/trainer.js";
import { Rng } from "../src/util/rng.js";
import { median } from "./timing.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/world-base" },
    pairs: { type: "string", default: "16" },
    micro: { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
    steps: { type: "string", default: "3" },
    template: { type: "string", default: "83" },
    repeats: { type: "string", default: "1" },
  },
});
const pairsPerStep = Number(values.pairs);
const micro = Number(values.micro);
const threads = Number(values.threads);
const steps = Number(values.steps);

await initTf("wasm");
const folder = loadModelFolder(values.model!);
const V = folder.config.vocabSize;
const settings: PreferenceSettings = { objective: "dpo-l+sft", beta: 0.1, lambda: 1, eta: 0.5 };
const template = Number(values.template);

/** The step times (ms) of `steps` steps over pairs whose prompts start with a shared template (or not). */
async function timeSteps(sharedTemplate: boolean): Promise<{ stepMs: number[]; tokensPerStep: number }> {
  const rng = new Rng(1);
  // Lengths from their own stream, so both runs time pairs of exactly the same lengths.
  const lengths = new Rng(2);
  const tokens = (n: number): number[] => Array.from({ length: n }, () => rng.int(0, V - 1));
  const shared = tokens(template);
  const sequence = (prompt: number[], response: number): { ids: number[]; lossMask: number[] } => {
    const ids = [...prompt, ...tokens(response)];
    return { ids, lossMask: ids.map((_, t) => (t < prompt.length ? 0 : 1)) };
  };
  const examples: PairExample[] = Array.from({ length: pairsPerStep * steps }, () => {
    const prompt = [...(sharedTemplate ? shared : tokens(template)), ...tokens(100 - template)];
    return { chosen: sequence(prompt, lengths.int(150, 350)), rejected: sequence(prompt, lengths.int(250, 512)), refChosen: -600, refRejected: -900 };
  });
  const model = LlamaModel.fromWeights(folder.config, folder.weights);
  const params = llamaParameters(model);
  const objective = preferenceObjective(folder.config, settings);
  const source = await gradientSourceFor({
    params,
    objective,
    threads,
    replica: { module: siblingModule(new URL("../src/train/parallel.ts", import.meta.url).href, "preference-replica"), args: { config: folder.config, weights: folder.weights, settings } },
  });
  const stepMs: number[] = [];
  let last = 0;
  let tokensPerStep = 0;
  try {
    await train({
      params,
      objective,
      examples,
      gradientSource: source,
      config: { ...defaultTrainerConfig, steps, batchSize: micro, gradAccum: Math.ceil(pairsPerStep / micro), lr: 1e-4, shuffle: false },
      onStep: (r) => {
        stepMs.push(r.elapsedMs - last);
        last = r.elapsedMs;
        tokensPerStep = r.tokens;
      },
    });
  } finally {
    await source.close();
    model.dispose();
  }
  return { stepMs, tokensPerStep };
}

/** The median step time after the warm-up step (the only step when there is one). */
function medianStep(stepMs: number[]): number {
  return stepMs.length < 2 ? stepMs[0] : median(stepMs.slice(1));
}

const loadBefore = loadavg()[0];
const line = (name: string, r: { stepMs: number[]; tokensPerStep: number }): string =>
  `${name}: step times (ms) ${r.stepMs.map((t) => t.toFixed(0)).join(", ")} (first is warm-up); median ${(medianStep(r.stepMs) / 1000).toFixed(2)} s (${((r.tokensPerStep / medianStep(r.stepMs)) * 1000).toFixed(0)} tokens/s)\n`;
const ratios: number[] = [];
for (let r = 0; r < Number(values.repeats); r++) {
  const distinct = await timeSteps(false);
  const sharing = await timeSteps(true);
  ratios.push(medianStep(distinct.stepMs) / medianStep(sharing.stepMs));
  process.stdout.write(
    (r === 0 ? `${values.model}: ${pairsPerStep} pairs per step (${micro} per micro-batch), ${threads} thread(s), ${sharing.tokensPerStep} tokens per step\n` : "") +
      line("prompts share nothing", distinct) +
      line(`prompts share a ${template}-token template`, sharing) +
      `ratio (share nothing / shared template): ${ratios[r].toFixed(2)}×\n`,
  );
}
process.stdout.write(
  (ratios.length > 1 ? `median ratio of ${ratios.length} repeats: ${median(ratios).toFixed(2)}×\n` : "") +
    `machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} cores; load average (1 min) before ${loadBefore.toFixed(2)}, after ${loadavg()[0].toFixed(2)}\n`,
);
