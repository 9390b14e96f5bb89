/**
 * The run configuration: one zod schema whose defaults are the values of docs/METHOD.md (the paper's numbers,
 * and the project's [decision] values where the paper is silent). Every section is a strict object, so an
 * unknown key is an error rather than a silently ignored typo.
 *
 * Sections follow the data flow: engine → datasets → sampling (stage 1 input) → selection (stage 1) →
 * refinement (stage 2) → training (stage 3) → evaluation, plus rounds and the run's seed.
 */
import { z } from "zod";

const positiveInt = () => z.number().int().positive();
const probability = () => z.number().min(0).max(1);

/**
 * A dataset reference: a registered name (`math500`, `math-train`, `gsm8k`, …), a file path (JSONL / JSON /
 * Parquet) or `hf://datasets/<org>/<name>[/<file>]`, with an optional field mapping for files and filters.
 * A bare string is shorthand for `{ name: "<string>" }`.
 */
export const DatasetSpecSchema = z.preprocess(
  (v) => (typeof v === "string" ? { name: v } : v),
  z.strictObject({
    name: z.string().min(1),
    /** Field holding the question (files only; default: `question`, else `problem`). */
    questionField: z.string().min(1).optional(),
    /** Field holding the reference answer (files only; default `answer`). */
    answerField: z.string().min(1).optional(),
    /** Field holding a stable id (files only; default `id`, else `unique_id`, else the line number). */
    idField: z.string().min(1).optional(),
    /** Field holding the difficulty level (files only; default `level` when present). */
    levelField: z.string().min(1).optional(),
    /** Field holding the subject (files only; default `subject` when present). */
    subjectField: z.string().min(1).optional(),
    /** Keep only problems of these levels (applied before `limit`). */
    levels: z.array(z.number().int()).min(1).optional(),
    /** Skip the first `offset` problems, in file order, after the level filter (a validation slice of a training set). */
    offset: z.number().int().min(0).optional(),
    /** Keep only the first `limit` problems, in file order, after the level filter and the offset. */
    limit: positiveInt().optional(),
  }),
);
export type DatasetSpec = z.output<typeof DatasetSpecSchema>;

/** Engines behind a model server, reached over HTTP at `engine.baseUrls` (src/engines/http/). */
export const ServerEngineKinds = ["vllm", "sglang", "llama-server", "ollama", "openai"] as const;
export type ServerEngineKind = (typeof ServerEngineKinds)[number];
export const EngineKinds = ["embedded", ...ServerEngineKinds, "llamacpp"] as const;
export type EngineKind = (typeof EngineKinds)[number];

export function isServerEngineKind(kind: string): kind is ServerEngineKind {
  return (ServerEngineKinds as readonly string[]).includes(kind);
}

export const EngineSchema = z
  .strictObject({
    /**
     * `embedded`: the in-process TypeScript model (a HF-format folder); `vllm`, `sglang`, `llama-server`,
     * `ollama`, `openai`: a model server at `baseUrls`; `llamacpp`: a GGUF file through llama.cpp.
     */
    kind: z.enum(EngineKinds).default("embedded"),
    /** Model folder (embedded) or GGUF path (llamacpp); unused by server engines. */
    model: z.string().min(1).default("models/world-base"),
    /** Server engines: one or more base URLs (replicas, load-balanced), e.g. `http://localhost:8000`. */
    baseUrls: z.array(z.string().min(1)).min(1).optional(),
    /** The model name sent in requests to a server (vLLM's `--served-model-name`); default: the server's first model. */
    servedModelName: z.string().min(1).optional(),
    /** Name of the environment variable that holds the server's API key (the key itself never enters a config). */
    apiKeyEnv: z.string().min(1).optional(),
    /** Requests (or work items) in flight at once. */
    concurrency: positiveInt().default(4),
    /** Server engines: HTTP requests in flight at once over all base URLs. */
    requestsInFlight: positiveInt().default(256),
    /** Server engines: one attempt's limit (a 32k-token generation on a busy server takes minutes). */
    timeoutMs: positiveInt().default(900_000),
    /** Server engines: further attempts after connection errors, timeouts, 429 and 5xx (backoff with jitter). */
    retries: z.number().int().min(0).default(8),
  })
  // Only this direction: configs are merged in layers (a run's recorded config, a preset, flags), and a layer
  // that switches to a local engine may leave a server's baseUrls behind, which then mean nothing.
  .superRefine((e, ctx) => {
    if (isServerEngineKind(e.kind) && e.baseUrls === undefined) {
      ctx.addIssue({ code: "custom", path: ["baseUrls"], message: `engine ${e.kind} needs the server's address: --base-url URL (config engine.baseUrls)` });
    }
  });
export type EngineConfig = z.output<typeof EngineSchema>;

/** `tokensqueeze serve`: a model folder behind a vLLM-compatible API (not part of a run's configuration). */
export const ServeSchema = z.strictObject({
  model: z.string().min(1).default("models/world-base"),
  /** The name clients send as `model`; default: `model` as given (vLLM's default too). */
  servedModelName: z.string().min(1).optional(),
  /** Loopback by default: another address needs an API key (apiKeyEnv) or `insecure`. */
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8000),
  /** Name of the environment variable holding the key clients must send. */
  apiKeyEnv: z.string().min(1).optional(),
  insecure: z.boolean().default(false),
  /** Larger request bodies are refused with 413. */
  maxBodyBytes: positiveInt().default(16 * 1024 * 1024),
  /** Largest log-prob k per position; -1 allows the whole vocabulary (cheap for the small embedded models). */
  maxLogprobs: z.number().int().min(-1).default(-1),
  /** Embedded engine worker threads (default: one per core, at most 8). */
  workers: z.number().int().min(0).optional(),
});
export type ServeConfig = z.output<typeof ServeSchema>;

export const PromptStyles = ["paper", "chat"] as const;

export const SamplingSchema = z.strictObject({
  /** Responses per training problem. METHOD [decision]: 32 for real models (16 in the embedded demo preset). */
  n: positiveInt().default(32),
  temperature: z.number().min(0).default(0.9),
  topP: z.number().gt(0).max(1).default(1.0),
  /**
   * Not stated in the paper for stage 1; the evaluation budget (32768) is used so that long correct answers are
   * not cut off and miscounted as wrong, which would distort the pass rate p.
   */
  maxTokens: positiveInt().default(32768),
  /** Prompt template: the paper's <think>/<answer> template or the model's own chat template. */
  prompt: z.enum(PromptStyles).default("paper"),
});
export type SamplingConfig = z.output<typeof SamplingSchema>;

export const SelectionVariants = ["shortest", "q-fix", "q-dyn", "q-dyn-extra-neg"] as const;
export type SelectionVariant = (typeof SelectionVariants)[number];

export const SelectionSchema = z.strictObject({
  /** Stage-1 variant (the paper's Table 2 ablation); `q-dyn` is the method. */
  variant: z.enum(SelectionVariants).default("q-dyn"),
  /** q = alpha · (1 − p). */
  alpha: probability().default(0.2),
  /** Fixed quantile for `q-fix`. METHOD [decision]: 0.1. */
  q0: probability().default(0.1),
  /** At most this many (chosen, rejected) pairs per problem, a seeded uniform subset. METHOD: M = 64. */
  maxPairs: positiveInt().default(64),
  /** `q-dyn-extra-neg`: correct responses longer than this × the chosen one become rejected too. */
  extraNegRatio: z.number().gt(1).default(1.5),
});
export type SelectionConfig = z.output<typeof SelectionSchema>;

export const DivergenceReductions = ["sum", "mean"] as const;
export const DivergenceEstimators = ["auto", "exact", "topk", "sampled"] as const;

export const RefinementSchema = z.strictObject({
  /** False skips stage 2 (the paper's "no refinement" ablation): chosen responses are used as sampled. */
  enabled: z.boolean().default(true),
  /** Candidate replacements sampled per step. */
  candidates: positiveInt().default(64),
  temperature: z.number().min(0).default(1.0),
  /** Accept the shortest candidate with divergence D < epsilon. */
  epsilon: z.number().gt(0).default(0.005),
  /** Tokens of the original continuation the divergence is summed over (L). */
  window: positiveInt().default(512),
  /** A candidate stops at this many × the original step's tokens. METHOD [decision]: 2. */
  lengthCapFactor: z.number().gt(0).default(2),
  /** How per-token KL values combine. METHOD [decision]: sum, as the paper writes it. */
  reduction: z.enum(DivergenceReductions).default("sum"),
  /** `auto` picks the best the engine supports: exact (full distributions) > topk > sampled. */
  estimator: z.enum(DivergenceEstimators).default("auto"),
  /** k for the top-k estimator (vLLM's default `--max-logprobs` is 20). */
  topK: positiveInt().default(20),
  /**
   * METHOD.md's exact shortcuts (drop candidates not shorter than the step, score duplicates once, shortest
   * first, stop at the first pass, one prefix per request). `false` (`--naive`) scores every candidate in its own
   * request; the accepted candidates are the same, only the cost differs.
   */
  shortcuts: z.boolean().default(true),
  /** Candidates per score request on the shortcut path: larger keeps the engine busier, smaller stops sooner. */
  scoreBatch: positiveInt().default(8),
});
export type RefinementConfig = z.output<typeof RefinementSchema>;

export const TrainingObjectives = ["dpo", "sft", "dpo+sft", "dpo-l+sft"] as const;
export type TrainingObjective = (typeof TrainingObjectives)[number];

export const DecayKinds = ["cosine", "linear", "constant"] as const;

/**
 * Stage 3, and every training command (`train`, `train-sft`): the one place training defaults live. The values
 * are the paper's (full fine-tuning with Adam, lr 5e-6, global batch 128, max length 9000) and METHOD.md's
 * [decision]s; the world presets state what differs for the built-in model.
 */
export const TrainingSchema = z.strictObject({
  /** The paper's Table 4 ablation; `dpo-l+sft` is the method. */
  objective: z.enum(TrainingObjectives).default("dpo-l+sft"),
  /** DPO temperature. METHOD [decision]: 0.1. */
  beta: z.number().gt(0).default(0.1),
  /** Weight of the length margin log(ℓ(yl)/ℓ(yw)). */
  lambda: z.number().min(0).default(1),
  /** L = eta · L_DPO-L + (1 − eta) · L_SFT. */
  eta: probability().default(0.5),
  /** Peak learning rate. */
  learningRate: z.number().gt(0).default(5e-6),
  /** Examples (pairs for stage 3) per optimizer step, reached by gradient accumulation. */
  globalBatchSize: positiveInt().default(128),
  /** Examples per forward pass (the embedded trainer's micro-batch, TRL's per-device batch). */
  microBatchSize: positiveInt().default(4),
  /** Longest prompt + response in tokens; longer examples are cut (SFT) or left out (pairs). */
  maxLength: positiveInt().default(9000),
  /** METHOD [decision]: 1. */
  epochs: positiveInt().default(1),
  /** Optimizer steps; when set, overrides `epochs`. */
  steps: positiveInt().optional(),
  /** Linear warmup as a share of the steps (the paper is silent; LLaMA-Factory's usual 0.1). */
  warmupRatio: probability().default(0.1),
  decay: z.enum(DecayKinds).default("cosine"),
  /** Final learning rate as a fraction of the peak. */
  minLrRatio: probability().default(0),
  /** Decoupled weight decay on matrices: 0 is the paper's Adam. */
  weightDecay: z.number().min(0).default(0),
  /** Clip the global gradient norm (0 disables). */
  maxGradNorm: z.number().min(0).default(1),
  /** Write the resumable checkpoint every this many steps (and after the last). */
  checkpointEvery: positiveInt().default(50),
  /** Share of the pairs' problems held out to measure implicit-reward accuracy (never trained on). */
  heldOutFraction: z.number().min(0).lt(1).default(0.1),
});
export type TrainingConfig = z.output<typeof TrainingSchema>;

export const EvaluationSchema = z
  .strictObject({
    benchmarks: z.array(DatasetSpecSchema).default(() => [{ name: "math500" }, { name: "aime24" }, { name: "aime25" }]),
    /** Samples per problem. */
    samples: positiveInt().default(16),
    temperature: z.number().min(0).default(0.6),
    /** METHOD [decision]: 0.95. */
    topP: z.number().gt(0).max(1).default(0.95),
    maxTokens: positiveInt().default(32768),
    prompt: z.enum(PromptStyles).default("paper"),
    /** Budget B of the AUC metric; defaults to `maxTokens`. */
    aucBudget: positiveInt().optional(),
  })
  .transform((e) => ({ ...e, aucBudget: e.aucBudget ?? e.maxTokens }));
export type EvaluationConfig = z.output<typeof EvaluationSchema>;

export const RunConfigSchema = z.strictObject({
  /** The preset the configuration started from (recorded for provenance; set by `resolveConfig`). */
  preset: z.string().min(1).optional(),
  engine: EngineSchema.prefault({}),
  /** Training problems for stage 1. */
  datasets: z.array(DatasetSpecSchema).min(1).default(() => [{ name: "math-train" }]),
  /** Where named datasets are read from (else `--data-dir`, `TOKENSQUEEZE_DATA`, `../shared/data`, or the `data fetch` cache). */
  dataDir: z.string().min(1).optional(),
  sampling: SamplingSchema.prefault({}),
  selection: SelectionSchema.prefault({}),
  refinement: RefinementSchema.prefault({}),
  training: TrainingSchema.prefault({}),
  evaluation: EvaluationSchema.prefault({}),
  /** Offline rounds: round r > 1 samples from round r − 1's model (the paper does one). */
  rounds: positiveInt().default(1),
  /** Seeds every random choice (sampling, pair subsets, candidate sampling) through deriveSeed. */
  seed: z.number().int().min(0).max(0xffffffff).default(42),
});

/** The resolved configuration every stage receives: all defaults filled in. */
export type RunConfig = z.output<typeof RunConfigSchema>;
/** What a config file or preset may contain: any subset, nested. */
export type RunConfigInput = z.input<typeof RunConfigSchema>;
