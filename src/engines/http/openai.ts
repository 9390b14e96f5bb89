/**
 * The plain OpenAI dialect: /v1/completions only (n, seed, temperature, top_p, stop). It has no tokenizer
 * endpoint and its log-probs are keyed by token text, not id, so tokenize and scoring are unavailable; the
 * completions' token ids are read where the server returns them (vLLM-compatible `return_token_ids`).
 */
import type { Completion, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { UNKNOWN_CONTEXT, unsupported, type Dialect, type DialectContext } from "./dialect.js";
import { OpenAICompletionResponseSchema, type OpenAICompletionRequest } from "./schemas/openai.js";

export class OpenAIDialect implements Dialect {
  readonly kind = "openai" as const;
  constructor(private readonly ctx: DialectContext) {}

  async tokenize(): Promise<number[]> {
    throw unsupported("openai", "a plain OpenAI server has no tokenize endpoint; use --engine vllm or sglang for a vLLM/SGLang server");
  }

  async detokenize(): Promise<string> {
    throw unsupported("openai", "a plain OpenAI server has no detokenize endpoint; use --engine vllm or sglang");
  }

  async applyChatTemplate(): Promise<string> {
    throw unsupported("openai", "a plain OpenAI server renders no chat template through /v1/completions; use --prompt paper");
  }

  async generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
    const body: OpenAICompletionRequest & { return_token_ids: boolean } = {
      model: this.ctx.model,
      prompt: typeof request.prompt === "string" ? request.prompt : [...request.prompt],
      n: request.n,
      seed: request.seed,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      top_p: request.topP,
      ...(request.stop?.length ? { stop: [...request.stop] } : {}),
      return_token_ids: true,
    };
    const res = await this.ctx.transport.request("POST", "/v1/completions", body, OpenAICompletionResponseSchema, { signal });
    if (res.choices.length !== request.n) throw new Error(`openai: asked for ${request.n} completions, the server returned ${res.choices.length}`);
    const completions: Completion[] = [...res.choices]
      .sort((a, b) => a.index - b.index)
      .map((c) => {
        if (!c.token_ids) throw unsupported("openai", "the server returns no completion token ids (token counts need them); use --engine vllm or sglang");
        return { index: c.index, text: c.text, tokenIds: c.token_ids, finishReason: c.finish_reason === "length" ? "length" : "stop" };
      });
    this.ctx.usage.promptTokens += res.usage?.prompt_tokens ?? 0;
    this.ctx.usage.completionTokens += res.usage?.completion_tokens ?? 0;
    return { completions, promptTokens: res.usage?.prompt_tokens ?? 0 };
  }

  async scoreIds(): Promise<ScoredContinuation[]> {
    throw unsupported("openai", "plain OpenAI log-probs are keyed by token text, not id, so given tokens cannot be scored; use --engine vllm or sglang");
  }

  async probeCapabilities(): Promise<EngineCapabilities> {
    return { fullDistributions: false, promptLogprobs: false, maxTopK: 0, prefixReuse: false, maxContextTokens: this.ctx.maxContextTokens ?? UNKNOWN_CONTEXT, chatTemplate: false };
  }
}
