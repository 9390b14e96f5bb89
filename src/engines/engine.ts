/**
 * The one way any stage reaches a model. Stages never know which engine they talk to: the embedded
 * TypeScript transformer, an OpenAI-compatible server (vLLM, SGLang, llama-server) or llama.cpp in-process.
 * Stage 2 picks its divergence estimator from `capabilities()`.
 */
import type { ModelIdentity } from "../util/model-identity.js";

/** A prompt is text (tokenized by the engine with the model's own tokenizer) or token ids. */
export type PromptInput = string | readonly number[];

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  /** Nucleus sampling; 1 disables it. */
  topP: number;
  /** 0 (or ≥ vocab size) disables it. */
  topK: number;
  /** Maximum new tokens per completion. */
  maxTokens: number;
  /** Generation ends after any of these strings; the stop string is kept out of `text` (as vLLM/OpenAI do). */
  stop?: readonly string[];
  /** Generation ends when one of these tokens is sampled (the model's EOS tokens are always included). */
  stopTokenIds?: readonly number[];
}

export interface GenerateRequest extends SamplingParams {
  prompt: PromptInput;
  /** Number of completions for this prompt. */
  n: number;
  /**
   * Completion i is drawn from a generator seeded by (seed, i) alone, so the same request gives the same
   * completions whether it runs alone or batched with others (vLLM uses seed + i the same way).
   */
  seed: number;
}

export type FinishReason = "stop" | "length";

export interface Completion {
  /** Index within the request, 0 … n−1. */
  index: number;
  text: string;
  /** Generated token ids (without the prompt, without a matched stop string's tokens when the engine can tell). */
  tokenIds: number[];
  finishReason: FinishReason;
  /** The stop string or token id that ended generation, when finishReason is "stop". */
  stopReason?: string | number;
}

export interface GenerateResult {
  completions: Completion[];
  promptTokens: number;
}

export type DistributionKind = "full" | "topk" | "none";

export interface ScoreRequest {
  /** Shared by every continuation; engines with prefix reuse encode it once. */
  prefix: PromptInput;
  continuations: readonly PromptInput[];
  /**
   * Score only the first `window` tokens of each continuation (METHOD.md stage 2: L = 512).
   * Undefined scores all of them.
   */
  window?: number;
  /** Which next-token distribution to return at each scored position, besides the given token's log-prob. */
  distributions: DistributionKind;
  /** With distributions = "topk": how many entries per position. */
  topK?: number;
}

export interface ScoredContinuation {
  /** The continuation's scored token ids (after tokenization and windowing). */
  tokenIds: number[];
  /** log P(token_j | prefix, continuation_<j) for each scored token. */
  logprobs: number[];
  /** With distributions = "topk": per position, [tokenId, logprob] pairs sorted by logprob descending. */
  topLogprobs?: Array<Array<[number, number]>>;
  /** With distributions = "full": per position, log-probabilities over the whole vocabulary. */
  fullLogprobs?: Float32Array[];
}

export interface ScoreResult {
  prefixTokens: number;
  continuations: ScoredContinuation[];
}

export interface EngineCapabilities {
  /** Can return the full next-token distribution (exact KL). */
  fullDistributions: boolean;
  /** Can return log-probs of given (prompt) tokens at all; llama-server and Ollama cannot. */
  promptLogprobs: boolean;
  /** Largest top-k of log-probs per position (vLLM default 20); 0 when none. */
  maxTopK: number;
  /** Encodes a shared prefix once and reuses it for every continuation. */
  prefixReuse: boolean;
  /** Longest prompt + completion in tokens. */
  maxContextTokens: number;
  /** Has a chat template to render messages. */
  chatTemplate: boolean;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Re-exported for engine implementations and callers; defined in src/util so the run store needs no engine. */
export type { ModelIdentity };

export interface Engine {
  readonly identity: ModelIdentity;
  capabilities(): Promise<EngineCapabilities>;
  tokenize(text: string, opts?: { addSpecialTokens?: boolean }): Promise<number[]>;
  /** Text of token ids; special tokens are left out unless `skipSpecialTokens` is false (to show a token as it is). */
  detokenize(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): Promise<string>;
  /** Render chat messages with the model's template (ending with the assistant's generation prompt). */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): Promise<string>;
  generate(request: GenerateRequest, opts?: { signal?: AbortSignal }): Promise<GenerateResult>;
  score(request: ScoreRequest, opts?: { signal?: AbortSignal }): Promise<ScoreResult>;
  /** Release workers, sockets, memory. */
  close(): Promise<void>;
}

/** Raised when an engine cannot be reached or loaded; commands check this before any work starts. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineUnavailableError";
  }
}
