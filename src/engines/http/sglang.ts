/**
 * The SGLang dialect: native /generate for sampling (input_ids or text, sampling_params with n and a seed) and
 * for scoring (every prefix + continuation in one batch, `logprob_start_len` = the prefix length so only the
 * continuation's positions come back, and the radix cache reuses the shared prefix: prefixReuse is true).
 * Tokenization goes through the OpenAI-compatible /tokenize and /detokenize that recent SGLang serves.
 */
import type { ChatMessage, Completion, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { UNKNOWN_CONTEXT, unclamp, unsupported, type Dialect, type DialectContext, type ScoreIdsRequest } from "./dialect.js";
import { HttpStatusError } from "./transport.js";
import { SglangGenerateResponseSchema, type SglangGenerateItem, type SglangGenerateRequest } from "./schemas/sglang.js";
import { vllmDetokenize, vllmTokenize } from "./vllm.js";

/** SGLang has no documented top_logprobs_num cap; this is what the probe asks for and what the engine offers. */
const SGLANG_TOP_K = 20;

export class SglangDialect implements Dialect {
  readonly kind = "sglang" as const;
  constructor(private readonly ctx: DialectContext) {}

  tokenize(text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]> {
    return vllmTokenize(this.ctx, text, addSpecialTokens, signal);
  }

  detokenize(ids: readonly number[], skipSpecialTokens: boolean, signal?: AbortSignal): Promise<string> {
    return vllmDetokenize(this.ctx, ids, skipSpecialTokens, signal);
  }

  async applyChatTemplate(_messages: readonly ChatMessage[], _addGenerationPrompt: boolean): Promise<string> {
    throw unsupported("sglang", "the native API renders no chat template on its own; use --prompt paper, or serve the model with vLLM");
  }

  async generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
    const body: SglangGenerateRequest = {
      ...(typeof request.prompt === "string" ? { text: request.prompt } : { input_ids: [...request.prompt] }),
      sampling_params: {
        max_new_tokens: request.maxTokens,
        temperature: request.temperature,
        top_p: request.topP,
        top_k: request.topK > 0 ? request.topK : -1,
        n: request.n,
        sampling_seed: request.seed,
        ...(request.stop?.length ? { stop: [...request.stop] } : {}),
        ...(request.stopTokenIds?.length ? { stop_token_ids: [...request.stopTokenIds] } : {}),
      },
    };
    const res = await this.ctx.transport.request("POST", "/generate", body, SglangGenerateResponseSchema, { signal });
    const items = Array.isArray(res) ? res : [res];
    if (items.length !== request.n) throw new Error(`sglang: asked for ${request.n} completions, the server returned ${items.length}`);
    const completions: Completion[] = [];
    for (const [index, item] of items.entries()) {
      completions.push(await this.completionOf(index, item, signal));
      this.ctx.usage.completionTokens += item.meta_info.completion_tokens;
    }
    const promptTokens = items[0]?.meta_info.prompt_tokens ?? 0;
    this.ctx.usage.promptTokens += promptTokens;
    return { completions, promptTokens };
  }

  private async completionOf(index: number, item: SglangGenerateItem, signal: AbortSignal | undefined): Promise<Completion> {
    const reason = item.meta_info.finish_reason ?? null;
    const finishReason = reason?.type === "length" ? "length" : "stop";
    const matched = reason?.matched;
    return {
      index,
      text: item.text,
      tokenIds: item.output_ids ?? (await this.tokenize(item.text, false, signal)),
      finishReason,
      ...(finishReason === "stop" && matched !== null && matched !== undefined ? { stopReason: matched } : {}),
    };
  }

  async scoreIds(request: ScoreIdsRequest, signal?: AbortSignal): Promise<ScoredContinuation[]> {
    if (request.distributions === "full") throw unsupported("sglang", "full next-token distributions are not available over HTTP (use the topk estimator)");
    const nonEmpty = request.continuations.filter((c) => c.length > 0);
    if (nonEmpty.length === 0) return request.continuations.map(() => ({ tokenIds: [], logprobs: [] }));
    const k = request.distributions === "topk" ? (request.topK as number) : 0;
    const body: SglangGenerateRequest = {
      input_ids: nonEmpty.map((c) => [...request.prefix, ...c]),
      sampling_params: { max_new_tokens: 0, temperature: 0 },
      return_logprob: true,
      logprob_start_len: request.prefix.length,
      top_logprobs_num: k,
    };
    const res = await this.ctx.transport.request("POST", "/generate", body, SglangGenerateResponseSchema, { signal });
    const items = Array.isArray(res) ? res : [res];
    if (items.length !== nonEmpty.length) throw new Error(`sglang: scored ${nonEmpty.length} prompts, the server returned ${items.length} results`);
    for (const item of items) this.ctx.usage.promptTokens += item.meta_info.prompt_tokens;
    let next = 0;
    return request.continuations.map((cont) => (cont.length === 0 ? { tokenIds: [], logprobs: [] } : readInputLogprobs(items[next++], cont, request.distributions, k)));
  }

  async probeCapabilities(): Promise<EngineCapabilities> {
    let promptLogprobs = true;
    try {
      await this.ctx.transport.request(
        "POST",
        "/generate",
        { input_ids: [0, 0], sampling_params: { max_new_tokens: 0 }, return_logprob: true, logprob_start_len: 1, top_logprobs_num: SGLANG_TOP_K },
        SglangGenerateResponseSchema,
        { retries: 2 },
      );
    } catch (err) {
      if (!(err instanceof HttpStatusError)) throw err;
      promptLogprobs = false;
    }
    return {
      fullDistributions: false,
      promptLogprobs,
      maxTopK: promptLogprobs ? SGLANG_TOP_K : 0,
      prefixReuse: true,
      maxContextTokens: this.ctx.maxContextTokens ?? UNKNOWN_CONTEXT,
      chatTemplate: false,
    };
  }
}

/** A continuation's scores from `input_token_logprobs` / `input_top_logprobs` (entry j = continuation token j). */
export function readInputLogprobs(item: SglangGenerateItem, continuation: readonly number[], distributions: ScoreIdsRequest["distributions"], topK: number): ScoredContinuation {
  const tokens = item.meta_info.input_token_logprobs;
  if (!tokens) throw new Error("sglang: the response has no input_token_logprobs (return_logprob was ignored)");
  if (tokens.length < continuation.length) throw new Error(`sglang: input_token_logprobs has ${tokens.length} entries for a ${continuation.length}-token continuation`);
  const logprobs = continuation.map((token, j) => {
    const [lp, id] = tokens[j];
    if (id !== token) throw new Error(`sglang: input_token_logprobs[${j}] is token ${id}, expected ${token} (logprob_start_len not honoured?)`);
    if (lp === null) throw new Error(`sglang: input_token_logprobs[${j}] has no logprob (only the very first prompt token may lack one)`);
    return unclamp(lp);
  });
  if (distributions !== "topk") return { tokenIds: [...continuation], logprobs };
  const tops = item.meta_info.input_top_logprobs;
  if (!tops || tops.length < continuation.length) throw new Error("sglang: the response lacks input_top_logprobs for every scored position");
  const topLogprobs = continuation.map((_, j) =>
    (tops[j] ?? [])
      .filter((e): e is [number, number, string | null | undefined] => e[0] !== null)
      .map((e): [number, number] => [e[1], unclamp(e[0])])
      .sort((a, b) => b[1] - a[1])
      .slice(0, topK),
  );
  return { tokenIds: [...continuation], logprobs, topLogprobs };
}
