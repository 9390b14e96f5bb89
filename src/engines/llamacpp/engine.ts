/**
 * The llamacpp engine: a GGUF file run in-process by llama.cpp (node-llama-cpp 3.21.1, its prebuilt CPU build).
 *
 * ```ts
 * const engine = await LlamaCppEngine.open("SmolLM2-135M-Instruct.Q4_1.gguf", { threads: 2 });
 * const { completions } = await engine.generate({ prompt: "Hi", n: 4, seed: 1, temperature: 0.9, topP: 1,
 *                                                  topK: 0, maxTokens: 64 });
 * await engine.close();
 * ```
 *
 * What it can do, and how:
 * - Tokens: the GGUF's own tokenizer (llama.cpp's). Text is tokenized with special tokens recognised (as Hugging
 *   Face tokenizers do for added tokens); `addSpecialTokens` adds BOS/EOS where the GGUF asks for them.
 * - Generation: llama.cpp's sampler. Completion i of a request samples with the seed deriveSeed(seed, i), each on
 *   its own context sequence; sequences take turns, one decode at a time (serial.ts says why), so a completion
 *   is the same whatever else runs beside it. llama.cpp applies top-k and
 *   top-p BEFORE temperature (vLLM and the embedded engine apply temperature first), so with temperature ≠ 1 and
 *   top-p < 1 the nucleus is taken from the untempered distribution; greedy decoding and plain temperature
 *   sampling are the same distributions as the other engines'. Its random stream is llama.cpp's, so sampled
 *   completions are reproducible here but not equal to another engine's for the same seed.
 * - Scoring: node-llama-cpp has no log-prob API. `controlledEvaluate` returns, at any position, the softmax over
 *   the whole vocabulary (float32, computed by llama.cpp from the raw logits), which gives the log-prob of a given
 *   token, the top-k and the full distribution. Probabilities that underflow float32 (below about 1e-45) read as
 *   LOGPROB_FLOOR instead of -Infinity. Each position's map crosses into JavaScript whole, so scoring a token costs
 *   much more than generating one (docs/BENCHMARKS.md). The prefix is encoded once per request and every
 *   continuation is scored after it (the KV cache is cut back to the prefix between continuations).
 */
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type {
  ChatMessage,
  Completion,
  Engine,
  EngineCapabilities,
  GenerateRequest,
  GenerateResult,
  ModelIdentity,
  PromptInput,
  ScoreRequest,
  ScoreResult,
  ScoredContinuation,
} from "../engine.js";
import { ChatTemplate } from "../../model/chat.js";
import { UserError } from "../../util/errors.js";
import { deriveSeed } from "../../util/rng.js";
import { checkGenerateRequest } from "../check-request.js";
import { loadGguf } from "./binding.js";
import { CompletionText } from "./completion-text.js";
import { SequencePool } from "./sequence-pool.js";
import { Serial } from "./serial.js";

export interface LlamaCppEngineOptions {
  /** CPU threads for evaluation (default: available cores). */
  threads?: number;
  /** Context sequences, i.e. completions or scoring requests evaluated at once (default 8). */
  sequences?: number;
  /** Tokens one sequence holds, prompt + completion (default: the model's training context, at most 4096). */
  contextTokens?: number;
  /** Identity name (default: the path as given). */
  name?: string;
}

const DEFAULT_SEQUENCES = 8;
const DEFAULT_MAX_CONTEXT = 4096;
/** log of the smallest positive float32: what a probability that underflowed to 0 is reported as. */
export const LOGPROB_FLOOR = Math.log(2 ** -149);
/** llama.cpp reads this seed as "pick one at random". */
const LLAMA_RANDOM_SEED = 0xffffffff;

export class LlamaCppEngine implements Engine {
  readonly identity: ModelIdentity;
  readonly vocabSize: number;
  /** Tokens one sequence holds (prompt + completion). */
  readonly contextTokens: number;
  private readonly chat: ChatTemplate | null;
  /** One decode at a time (see serial.ts for the node-llama-cpp race this avoids). */
  private readonly serial = new Serial();
  private closed = false;

  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly pool: SequencePool,
    identity: ModelIdentity,
  ) {
    this.identity = identity;
    this.contextTokens = context.contextSize;
    this.vocabSize = ggufVocabSize(model);
    const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    this.chat = typeof template === "string" ? new ChatTemplate(template, { bos_token: model.tokens.bosString, eos_token: model.tokens.eosString }) : null;
  }

  /** Loads a GGUF file (errors name the file and, for files llama.cpp refuses, its reason). */
  static async open(path: string, opts: LlamaCppEngineOptions = {}): Promise<LlamaCppEngine> {
    const shownAs = opts.name ?? path;
    const model = await loadGguf(path, shownAs);
    try {
      if (ggufVocabSize(model) === 0) throw new UserError(`${path}: the GGUF has no tokenizer (tokenizer.ggml.tokens); the llamacpp engine needs the model's own tokenizer`);
      const sequences = opts.sequences ?? DEFAULT_SEQUENCES;
      const contextTokens = opts.contextTokens ?? Math.min(model.trainContextSize, DEFAULT_MAX_CONTEXT);
      const context = await model.createContext({
        sequences,
        contextSize: contextTokens,
        threads: opts.threads ?? availableParallelism(),
        // The context asked for or an error: never a silently smaller one.
        failedCreationRemedy: false,
      });
      const sha256 = await fileSha256(path);
      return new LlamaCppEngine(model, context, new SequencePool(context), { name: shownAs, sha256, engine: "llamacpp" });
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  async capabilities(): Promise<EngineCapabilities> {
    return {
      fullDistributions: true,
      promptLogprobs: true,
      maxTopK: this.vocabSize,
      prefixReuse: true,
      maxContextTokens: this.contextTokens,
      chatTemplate: this.chat !== null,
    };
  }

  async tokenize(text: string, opts: { addSpecialTokens?: boolean } = {}): Promise<number[]> {
    this.assertOpen();
    return this.encode(text, opts.addSpecialTokens ?? true);
  }

  async detokenize(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    this.assertOpen();
    this.checkIds(ids, "detokenize");
    return this.model.detokenize(ids as Token[], !(opts.skipSpecialTokens ?? true));
  }

  async applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): Promise<string> {
    if (this.chat === null) throw new UserError(`model ${this.identity.name} has no chat template (tokenizer.chat_template in the GGUF)`);
    return this.chat.render(messages, opts);
  }

  async generate(request: GenerateRequest, opts: { signal?: AbortSignal } = {}): Promise<GenerateResult> {
    this.assertOpen();
    opts.signal?.throwIfAborted();
    const promptIds = this.promptIds(request.prompt, "prompt");
    if (promptIds.length === 0) throw new UserError("generate: the prompt has no tokens");
    checkGenerateRequest(request);
    if (promptIds.length >= this.contextTokens) {
      throw new UserError(`generate: the prompt has ${promptIds.length} tokens; a llamacpp engine sequence holds ${this.contextTokens} (prompt + completion)`);
    }
    const completions = await Promise.all(
      Array.from({ length: request.n }, (_, index) =>
        request.maxTokens === 0
          ? Promise.resolve<Completion>({ index, text: "", tokenIds: [], finishReason: "length" })
          : this.pool.with((seq) => this.complete(seq, promptIds, request, index, opts.signal), opts.signal),
      ),
    );
    return { completions, promptTokens: promptIds.length };
  }

  /** One completion on its own sequence (already cleared). */
  private async complete(seq: LlamaContextSequence, promptIds: number[], r: GenerateRequest, index: number, signal?: AbortSignal): Promise<Completion> {
    const stopIds = new Set(r.stopTokenIds ?? []);
    const text = new CompletionText((tokens, last) => this.model.detokenize(tokens as Token[], false, last as Token[]), r.stop ?? []);
    const seed = deriveSeed(r.seed, index);
    const sampling = { temperature: r.temperature, topK: r.topK, topP: r.topP, minP: 0, seed: seed === LLAMA_RANDOM_SEED ? seed - 1 : seed };
    const finish = (finishReason: "stop" | "length", tokenIds: number[], stopReason?: string | number, shown?: string): Completion => ({
      index,
      text: shown ?? this.model.detokenize(tokenIds as Token[]),
      tokenIds,
      finishReason,
      ...(stopReason !== undefined ? { stopReason } : {}),
    });
    const tokens = seq.evaluate(promptIds as Token[], sampling);
    try {
      while (true) {
        signal?.throwIfAborted();
        const next = await this.serial.run(() => tokens.next());
        if (next.done === true) return finish("length", text.tokens);
        const token: number = next.value;
        if (this.model.isEogToken(next.value) || stopIds.has(token)) return finish("stop", text.tokens, token);
        const hit = text.push(token);
        if (hit !== null) return finish("stop", hit.tokens, hit.stop, hit.text);
        // The sampled token is evaluated on the next call: stop while it still fits in the sequence.
        if (text.tokens.length >= r.maxTokens || promptIds.length + text.tokens.length >= this.contextTokens) return finish("length", text.tokens);
      }
    } finally {
      await tokens.return();
    }
  }

  async score(request: ScoreRequest, opts: { signal?: AbortSignal } = {}): Promise<ScoreResult> {
    this.assertOpen();
    opts.signal?.throwIfAborted();
    const prefix = this.promptIds(request.prefix, "prefix");
    if (prefix.length === 0) throw new UserError("score: the prefix has no tokens (the first continuation token needs context)");
    const conts = request.continuations.map((c, i) => this.promptIds(c, `continuation ${i}`));
    if (request.distributions === "topk" && !(Number.isInteger(request.topK) && (request.topK as number) > 0)) {
      throw new UserError("score: distributions 'topk' needs a positive topK");
    }
    if (request.window !== undefined && !(Number.isInteger(request.window) && request.window >= 0)) throw new UserError(`score: window must be a non-negative integer, got ${request.window}`);
    const scored = conts.map((c) => (request.window === undefined ? c : c.slice(0, request.window)));
    const longest = Math.max(0, ...scored.map((c) => c.length));
    if (prefix.length + longest > this.contextTokens) {
      throw new UserError(`score: prefix (${prefix.length} tokens) + continuation (${longest}) exceed a llamacpp engine sequence (${this.contextTokens} tokens)`);
    }
    const continuations = await this.pool.with(async (seq) => {
      // Everything but the prefix's last token is encoded once; that token is re-fed before each continuation
      // because its output is the distribution of the continuation's first token.
      const shared = prefix.length - 1;
      if (shared > 0) await this.serial.run(() => seq.evaluateWithoutGeneratingNewTokens(prefix.slice(0, shared) as Token[]));
      const out: ScoredContinuation[] = [];
      for (const tokens of scored) {
        opts.signal?.throwIfAborted();
        if (seq.nextTokenIndex > shared) await seq.eraseContextTokenRanges([{ start: shared, end: seq.nextTokenIndex }]);
        out.push(await this.scoreAfterPrefix(seq, prefix[shared], tokens, request));
      }
      return out;
    }, opts.signal);
    return { prefixTokens: prefix.length, continuations };
  }

  private async scoreAfterPrefix(seq: LlamaContextSequence, lastPrefixToken: number, tokens: number[], request: ScoreRequest): Promise<ScoredContinuation> {
    const result: ScoredContinuation = { tokenIds: tokens, logprobs: [] };
    if (request.distributions === "topk") result.topLogprobs = [];
    if (request.distributions === "full") result.fullLogprobs = [];
    if (tokens.length === 0) return result;
    const inputs = [lastPrefixToken, ...tokens.slice(0, -1)];
    const outputs = await this.serial.run(() => seq.controlledEvaluate(inputs.map((t): [Token, { generateNext: { probabilities: true } }] => [t as Token, { generateNext: { probabilities: true } }])));
    tokens.forEach((token, j) => {
      const probs = outputs[j]?.next.probabilities;
      if (probs === undefined) throw new Error(`llamacpp engine: llama.cpp returned no distribution at continuation position ${j}`);
      result.logprobs.push(toLogprob(probs.get(token as Token)));
      if (result.topLogprobs) {
        const row: Array<[number, number]> = [];
        for (const [id, p] of probs) {
          if (row.length === request.topK) break;
          row.push([id, toLogprob(p)]);
        }
        result.topLogprobs.push(row);
      }
      if (result.fullLogprobs) {
        const row = new Float32Array(this.vocabSize).fill(LOGPROB_FLOOR);
        for (const [id, p] of probs) row[id] = toLogprob(p);
        result.fullLogprobs.push(row);
      }
    });
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.context.dispose();
    await this.model.dispose();
  }

  private encode(text: string, addSpecialTokens: boolean): number[] {
    const ids = this.model.tokenize(text, true);
    if (!addSpecialTokens) return ids;
    const { bos, eos, shouldPrependBosToken, shouldAppendEosToken } = this.model.tokens;
    return [...(shouldPrependBosToken && bos !== null ? [bos] : []), ...ids, ...(shouldAppendEosToken && eos !== null ? [eos] : [])];
  }

  private promptIds(p: PromptInput, what: string): number[] {
    const ids = typeof p === "string" ? this.encode(p, true) : p.slice();
    this.checkIds(ids, what);
    return ids;
  }

  private checkIds(ids: readonly number[], what: string): void {
    const V = this.vocabSize;
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new UserError(`${what}: token id ${id} is outside the vocabulary (0…${V - 1})`);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("LlamaCppEngine is closed");
  }
}

/** The tokenizer's vocabulary, which is also the length of llama.cpp's logits. */
function ggufVocabSize(model: LlamaModel): number {
  return (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length ?? 0;
}

function toLogprob(p: number | undefined): number {
  return p !== undefined && p > 0 ? Math.log(p) : LOGPROB_FLOOR;
}

function fileSha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
