/**
 * The vLLM dialect: /v1/completions for sampling (token-id or text prompts, n, seed, stop, top_k) and for scoring
 * (the prefix + continuation ids as prompts with `prompt_logprobs`, one request per score call with every
 * continuation in it), /tokenize and /detokenize at the server root. `tokensqueeze serve` speaks the same.
 *
 * Cost note: vLLM skips its prefix cache for requests that ask for prompt log-probs, so each scored continuation
 * re-reads the whole shared prefix (capabilities().prefixReuse is false): a refinement step at depth d with
 * c candidates of window L costs about c·(d + L) prompt tokens on vLLM against d + c·L on SGLang.
 */
import type { ChatMessage, Completion, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { MAX_FULL_DISTRIBUTION_VOCAB, UNKNOWN_CONTEXT, unclamp, type Dialect, type DialectContext, type ScoreIdsRequest } from "./dialect.js";
import { HttpStatusError } from "./transport.js";
import {
  VllmCompletionResponseSchema,
  VllmDetokenizeResponseSchema,
  VllmTokenizeResponseSchema,
  type VllmChoice,
  type VllmCompletionRequest,
  type VllmPromptLogprobEntrySchema,
} from "./schemas/vllm.js";
import type { z } from "zod";

type PromptLogprobEntry = z.output<typeof VllmPromptLogprobEntrySchema>;

/** vLLM's /tokenize, which SGLang serves too. */
export async function vllmTokenize(ctx: DialectContext, text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]> {
  const res = await ctx.transport.request("POST", "/tokenize", { model: ctx.model, prompt: text, add_special_tokens: addSpecialTokens }, VllmTokenizeResponseSchema, { signal });
  return res.tokens;
}

/** vLLM's /detokenize, which SGLang serves too. */
export async function vllmDetokenize(ctx: DialectContext, ids: readonly number[], skipSpecialTokens: boolean, signal?: AbortSignal): Promise<string> {
  const res = await ctx.transport.request("POST", "/detokenize", { model: ctx.model, tokens: ids, skip_special_tokens: skipSpecialTokens }, VllmDetokenizeResponseSchema, { signal });
  return res.prompt;
}

export class VllmDialect implements Dialect {
  readonly kind = "vllm" as const;
  constructor(private readonly ctx: DialectContext) {}

  tokenize(text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]> {
    return vllmTokenize(this.ctx, text, addSpecialTokens, signal);
  }

  detokenize(ids: readonly number[], skipSpecialTokens: boolean, signal?: AbortSignal): Promise<string> {
    return vllmDetokenize(this.ctx, ids, skipSpecialTokens, signal);
  }

  /** vLLM has no render-only endpoint: /tokenize renders `messages` with the template, /detokenize gives its text. */
  async applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean): Promise<string> {
    const t = await this.ctx.transport.request("POST", "/tokenize", { model: this.ctx.model, messages, add_generation_prompt: addGenerationPrompt, add_special_tokens: false }, VllmTokenizeResponseSchema);
    return this.detokenize(t.tokens, false);
  }

  async generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
    const body: VllmCompletionRequest = {
      model: this.ctx.model,
      prompt: typeof request.prompt === "string" ? request.prompt : [...request.prompt],
      n: request.n,
      seed: request.seed,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      top_p: request.topP,
      top_k: request.topK > 0 ? request.topK : -1,
      ...(request.stop?.length ? { stop: [...request.stop] } : {}),
      ...(request.stopTokenIds?.length ? { stop_token_ids: [...request.stopTokenIds] } : {}),
      return_token_ids: true,
    };
    const res = await this.ctx.transport.request("POST", "/v1/completions", body, VllmCompletionResponseSchema, { signal });
    if (res.choices.length !== request.n) throw new Error(`vllm: asked for ${request.n} completions, the server returned ${res.choices.length}`);
    const choices = [...res.choices].sort((a, b) => a.index - b.index);
    const completions: Completion[] = [];
    for (const c of choices) completions.push(await this.completionOf(c, signal));
    this.count(res.usage);
    const promptTokens = res.usage?.prompt_tokens ?? choices[0]?.prompt_token_ids?.length ?? 0;
    return { completions, promptTokens };
  }

  private async completionOf(c: VllmChoice, signal: AbortSignal | undefined): Promise<Completion> {
    // Older vLLM returns no ids: the text re-tokenized is the best count it allows (exact for most tokenizers).
    const tokenIds = c.token_ids ?? (await this.tokenize(c.text, false, signal));
    const finishReason = c.finish_reason === "length" ? "length" : "stop";
    return {
      index: c.index,
      text: c.text,
      tokenIds,
      finishReason,
      ...(finishReason === "stop" && c.stop_reason !== null && c.stop_reason !== undefined ? { stopReason: c.stop_reason } : {}),
    };
  }

  async scoreIds(request: ScoreIdsRequest, signal?: AbortSignal): Promise<ScoredContinuation[]> {
    const nonEmpty = request.continuations.filter((c) => c.length > 0);
    if (nonEmpty.length === 0) return request.continuations.map(() => ({ tokenIds: [], logprobs: [] }));
    const k = request.distributions === "full" ? -1 : request.distributions === "topk" ? (request.topK as number) : 0;
    const body: VllmCompletionRequest = {
      model: this.ctx.model,
      prompt: nonEmpty.map((c) => [...request.prefix, ...c]),
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: k,
    };
    const res = await this.ctx.transport.request("POST", "/v1/completions", body, VllmCompletionResponseSchema, { signal });
    this.count(res.usage);
    const byIndex = [...res.choices].sort((a, b) => a.index - b.index);
    if (byIndex.length !== nonEmpty.length) throw new Error(`vllm: scored ${nonEmpty.length} prompts, the server returned ${byIndex.length} choices`);
    let next = 0;
    return request.continuations.map((cont) => {
      if (cont.length === 0) return { tokenIds: [], logprobs: [] };
      const choice = byIndex[next++];
      return readPromptLogprobs(choice.prompt_logprobs ?? null, request.prefix.length, cont, request.distributions, request.topK);
    });
  }

  async probeCapabilities(): Promise<EngineCapabilities> {
    const probe = async (k: number): Promise<PromptLogprobEntry | null | undefined> => {
      try {
        const res = await this.ctx.transport.request("POST", "/v1/completions", { model: this.ctx.model, prompt: [0, 0], max_tokens: 1, temperature: 0, prompt_logprobs: k }, VllmCompletionResponseSchema, { retries: 2 });
        return res.choices[0]?.prompt_logprobs?.[1] ?? null;
      } catch (err) {
        if (err instanceof HttpStatusError) return undefined;
        throw err;
      }
    };
    const full = await probe(-1);
    const vocab = full ? Object.keys(full).length : 0;
    const fullDistributions = vocab > 1 && vocab <= MAX_FULL_DISTRIBUTION_VOCAB;
    // vLLM's --max-logprobs default is 20; a server started with a lower cap still answers 1.
    const maxTopK = full ? vocab : (await probe(20)) ? 20 : (await probe(1)) ? 1 : 0;
    const promptLogprobs = maxTopK > 0 || (await probe(0)) !== undefined;
    let chatTemplate = true;
    try {
      await this.ctx.transport.request("POST", "/tokenize", { model: this.ctx.model, messages: [{ role: "user", content: "hi" }], add_generation_prompt: true }, VllmTokenizeResponseSchema, { retries: 2 });
    } catch (err) {
      if (!(err instanceof HttpStatusError)) throw err;
      chatTemplate = false;
    }
    return { fullDistributions, promptLogprobs, maxTopK, prefixReuse: false, maxContextTokens: this.ctx.maxContextTokens ?? UNKNOWN_CONTEXT, chatTemplate };
  }

  private count(usage: { prompt_tokens: number; completion_tokens?: number | null } | null | undefined): void {
    if (!usage) return;
    this.ctx.usage.promptTokens += usage.prompt_tokens;
    this.ctx.usage.completionTokens += usage.completion_tokens ?? 0;
  }
}

/**
 * A continuation's scores from vLLM's `prompt_logprobs` (position p holds the distribution that predicted prompt
 * token p; entry 0 is null). Each entry holds the actual token and the top-k by rank; with k = -1 every token.
 */
export function readPromptLogprobs(
  entries: ReadonlyArray<PromptLogprobEntry | null> | null,
  prefixLength: number,
  continuation: readonly number[],
  distributions: ScoreIdsRequest["distributions"],
  topK: number | undefined,
): ScoredContinuation {
  if (entries === null) throw new Error("vllm: the response has no prompt_logprobs (the server ignored prompt_logprobs)");
  if (entries.length < prefixLength + continuation.length) throw new Error(`vllm: prompt_logprobs has ${entries.length} entries for a ${prefixLength + continuation.length}-token prompt`);
  const logprobs: number[] = [];
  const topLogprobs: Array<Array<[number, number]>> = [];
  const fullLogprobs: Float32Array[] = [];
  continuation.forEach((token, j) => {
    const entry = entries[prefixLength + j];
    if (entry === null) throw new Error(`vllm: prompt_logprobs[${prefixLength + j}] is null (only the first prompt position may be)`);
    const own = entry[String(token)];
    if (own === undefined) throw new Error(`vllm: prompt_logprobs[${prefixLength + j}] lacks the prompt's own token ${token}`);
    logprobs.push(unclamp(own.logprob));
    if (distributions === "topk") {
      const k = topK as number;
      const ranked = Object.entries(entry)
        .map(([id, v]) => ({ id: Number(id), logprob: unclamp(v.logprob), rank: v.rank ?? Number.POSITIVE_INFINITY }))
        // The actual token is listed even outside the top-k (rank > k); ties keep the server's order by rank.
        .sort((a, b) => a.rank - b.rank || b.logprob - a.logprob)
        .filter((e) => e.rank <= k || e.rank === Number.POSITIVE_INFINITY)
        .slice(0, k);
      topLogprobs.push(ranked.map((e) => [e.id, e.logprob]));
    } else if (distributions === "full") {
      const ids = Object.keys(entry).map(Number);
      const row = new Float32Array(Math.max(...ids) + 1).fill(-Infinity);
      for (const [id, v] of Object.entries(entry)) row[Number(id)] = unclamp(v.logprob);
      fullLogprobs.push(row);
    }
  });
  return {
    tokenIds: [...continuation],
    logprobs,
    ...(distributions === "topk" ? { topLogprobs } : {}),
    ...(distributions === "full" ? { fullLogprobs } : {}),
  };
}
