/**
 * Named starting points. A preset is a partial configuration laid over the schema defaults (which are the paper's
 * values), so a preset states only what differs from METHOD.md.
 *
 * `world-train` / `world-test` are the built-in world's datasets, registered with the benchmarks by
 * `registerBuiltinDatasets` (src/data/registry.ts).
 */
import type { RunConfigInput } from "./schema.js";

function paperPreset(model: string): RunConfigInput {
  return {
    engine: {
      kind: "vllm",
      baseUrls: ["http://localhost:8000"],
      servedModelName: model,
      concurrency: 64,
    },
    // MATH train: the paper's training problems are competition math with verifiable answers.
    datasets: [{ name: "math-train" }],
    evaluation: { benchmarks: [{ name: "math500" }, { name: "aime24" }, { name: "aime25" }] },
  };
}

/*
 * The demo's stage-2 and stage-3 settings, chosen on a validation slice of the training set (world-train problems
 * 4000-4099, never trained on, disjoint from the held-out problems the demo reports) with the reflective model:
 * - ε = 0.02: the paper's 0.005 is a sum of KL over a 512-token window on a 7B model; on the 1.4M-parameter model
 *   with a 128-token window it accepted 10% of steps and shortened the chosen thinking by 2%. 0.02 accepts 34% and
 *   shortens it by 10%, by rewording (validation: −2.8 points at −20% Len-T, against −3.2 at −19% with 0.005).
 * - learning rate 3e-5: a tiny model needs a larger step than the paper's 5e-6 on a 7B model, but 1e-4 taught it to
 *   skip the checks and the column-by-column working that hard problems need (validation: −10 points at −33%).
 * With the model of issue 12 (R1's proportions of free waste: wording as a per-trace style, extra closing
 *   restatements), the same settings on the same slice: Acc 70.0 → 69.1%, Len-T 247 → 159 tokens (−35.5%), AUC
 *   36.3 → 47.6 (docs/BENCHMARKS.md, "The demo").
 * Micro-batches of 2 pairs: the size changes the model only through the order a step's gradient is summed in. 2 is
 *   from a trainer that held each head's T² attention in the wasm heap; it stays so the demo's figures are the measured
 *   ones.
 * `demo --quick` trains 7 steps instead of 51 (11 of 70 with issue 12's model), so it takes a larger step (1e-4) to
 * show the effect at all: with issue 11's model, on the same validation slice, its 7 steps gave −2.2% Len-T at
 * −0.1 points with 3e-5, −7.4% at −2.1 with 1e-4 (the full demo's trade-off), −15.0% at −6.2 with 2e-4.
 */
const DEMO_REFINEMENT = { candidates: 16, window: 128, epsilon: 0.02 } as const;
const DEMO_TRAINING = { globalBatchSize: 16, microBatchSize: 2, maxLength: 1024, learningRate: 3e-5 } as const;

export const presets = {
  /** DeepSeek-R1-Distill-Qwen-7B behind a vLLM server on localhost:8000 (`--engine sglang` for SGLang); all stage values as in the paper. */
  "paper-7b": paperPreset("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
  /** DeepSeek-R1-Distill-Qwen-1.5B behind a vLLM server on localhost:8000 (`--engine sglang` for SGLang). */
  "paper-1.5b": paperPreset("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"),
  /**
   * The whole method on a laptop with the committed embedded model: N = 16 (METHOD's demo value), short
   * responses and small batches so every stage finishes in minutes on two CPU cores.
   */
  demo: {
    // 8 problems in flight: the engine batches their samples (2 → 8 cut sampling time by a quarter on 2 cores).
    engine: { kind: "embedded", model: "models/world-base", concurrency: 8 },
    datasets: [{ name: "world-train", limit: 256 }],
    sampling: { n: 16, maxTokens: 512 },
    refinement: DEMO_REFINEMENT,
    training: DEMO_TRAINING,
    // All 200 held-out problems × 16 samples: the paper's sample count, on the problems nothing was tuned on.
    evaluation: { benchmarks: [{ name: "world-test" }], samples: 16, maxTokens: 512 },
  },
  /** `demo --quick`: the demo's settings on fewer problems and samples, a few minutes on a laptop. */
  "demo-quick": {
    engine: { kind: "embedded", model: "models/world-base", concurrency: 8 },
    datasets: [{ name: "world-train", limit: 96 }],
    sampling: { n: 8, maxTokens: 512 },
    refinement: { ...DEMO_REFINEMENT, candidates: 8 },
    training: { ...DEMO_TRAINING, learningRate: 1e-4 },
    // 12 held-out problems per level (a limit keeps the interleaved levels balanced).
    evaluation: { benchmarks: [{ name: "world-test", limit: 60 }], samples: 4, maxTokens: 512 },
  },
  /**
   * Tiny sizes so a whole pipeline runs in seconds in tests and CI, with every stage at work (`squeeze --preset ci`:
   * 8 problems, 5 pairs, 35% of steps accepted, in 7 s on 2 cores):
   * - training on levels 1–2 with 256 tokens: the built-in model's easy answers finish (Len-T about 130 and 180
   *   tokens), so samples are graded, some problems have 0 < p < 1 and stage 1 forms pairs (with 64 tokens almost
   *   none finished);
   * - ε 0.3: with a 32-token window and 4 candidates the paper's 0.005 accepted no rewrite of the built-in model's
   *   steps, so stage 2 showed nothing; 0.3 accepts a quarter to a third of them.
   */
  ci: {
    engine: { kind: "embedded", model: "models/world-base", concurrency: 1 },
    datasets: [{ name: "world-train", levels: [1, 2], limit: 8 }],
    sampling: { n: 4, maxTokens: 256 },
    refinement: { candidates: 4, window: 32, epsilon: 0.3 },
    training: { globalBatchSize: 4, microBatchSize: 2, maxLength: 512, learningRate: 1e-4 },
    // One held-out problem of each of levels 1–4 (the levels interleave), so a table has hard rows too.
    evaluation: { benchmarks: [{ name: "world-test", limit: 4 }], samples: 2, maxTokens: 256 },
  },
} satisfies Record<string, RunConfigInput>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];

export const presetDescriptions: Record<PresetName, string> = {
  "paper-7b": "R1-Distill-Qwen-7B on a vLLM server at localhost:8000 (or --engine sglang --base-url …), paper settings",
  "paper-1.5b": "R1-Distill-Qwen-1.5B on a vLLM server at localhost:8000 (or --engine sglang --base-url …), paper settings",
  demo: "the built-in embedded model (models/world-base) on the world dataset, laptop sizes (N = 16)",
  "demo-quick": "the demo on fewer problems and samples (`demo --quick`), a few minutes on a laptop",
  ci: "the built-in embedded model on easy levels with tiny sizes, so a whole pipeline runs in seconds",
};

export function isPresetName(name: string): name is PresetName {
  return Object.prototype.hasOwnProperty.call(presets, name);
}
