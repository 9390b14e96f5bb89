/**
 * The llama-server dialect (llama.cpp): /completion once per completion (it has no n; completion i is seeded
 * seed + i, as vLLM does), /tokenize, /detokenize, /apply-template. It returns no log-probs of prompt tokens,
 * so scoring is off (capabilities().promptLogprobs is false): usable for sampling and evaluation.
 */
import type { ChatMessage, Completion, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { UNKNOWN_CONTEXT, unsupported, type Dialect, type DialectContext } from "./dialect.js";
import { HttpStatusError } from "./transport.js";
import {
  LlamaApplyTemplateResponseSchema,
  LlamaCompletionResponseSchema,
  LlamaDetokenizeResponseSchema,
  LlamaPropsSchema,
  LlamaTokenizeResponseSchema,
  type LlamaCompletionRequest,
} from "./schemas/llama-server.js";

export class LlamaServerDialect implements Dialect {
  readonly kind = "llama-server" as const;
  constructor(private readonly ctx: DialectContext) {}

  async tokenize(text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]> {
    const res = await this.ctx.transport.request("POST", "/tokenize", { content: text, add_special: addSpecialTokens }, LlamaTokenizeResponseSchema, { signal });
    return res.tokens.map((t) => (typeof t === "number" ? t : t.id));
  }

  async detokenize(ids: readonly number[], _skipSpecialTokens: boolean, signal?: AbortSignal): Promise<string> {
    const res = await this.ctx.transport.request("POST", "/detokenize", { tokens: ids }, LlamaDetokenizeResponseSchema, { signal });
    return res.content;
  }

  async applyChatTemplate(messages: readonly ChatMessage[], _addGenerationPrompt: boolean): Promise<string> {
    const res = await this.ctx.transport.request("POST", "/apply-template", { messages }, LlamaApplyTemplateResponseSchema);
    return res.prompt;
  }

  async generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
    let promptTokens = 0;
    const completions = await Promise.all(
      Array.from({ length: request.n }, async (_, index): Promise<Completion> => {
        const body: LlamaCompletionRequest = {
          prompt: typeof request.prompt === "string" ? request.prompt : [...request.prompt],
          n_predict: request.maxTokens,
          temperature: request.temperature,
          top_k: request.topK,
          top_p: request.topP,
          seed: request.seed + index,
          ...(request.stop?.length ? { stop: [...request.stop] } : {}),
          cache_prompt: true,
          return_tokens: true,
          stream: false,
        };
        const res = await this.ctx.transport.request("POST", "/completion", body, LlamaCompletionResponseSchema, { signal });
        promptTokens = res.tokens_evaluated ?? promptTokens;
        this.ctx.usage.promptTokens += res.tokens_evaluated ?? 0;
        this.ctx.usage.completionTokens += res.tokens_predicted ?? 0;
        const finishReason = res.stop_type === "limit" || res.stopped_limit === true ? "length" : "stop";
        const stopWord = res.stop_type === "word" || res.stopped_word === true ? res.stopping_word : undefined;
        return {
          index,
          text: res.content,
          tokenIds: res.tokens ?? (await this.tokenize(res.content, false, signal)),
          finishReason,
          ...(stopWord ? { stopReason: stopWord } : {}),
        };
      }),
    );
    return { completions, promptTokens };
  }

  async scoreIds(): Promise<ScoredContinuation[]> {
    throw unsupported("llama-server", "llama-server cannot return log-probs of given tokens, which scoring needs; use --engine vllm or sglang");
  }

  async probeCapabilities(): Promise<EngineCapabilities> {
    let context = this.ctx.maxContextTokens;
    let chatTemplate = false;
    try {
      const props = await this.ctx.transport.request("GET", "/props", undefined, LlamaPropsSchema, { retries: 2 });
      context = props.default_generation_settings?.n_ctx ?? context;
      chatTemplate = (props.chat_template ?? "") !== "";
    } catch (err) {
      if (!(err instanceof HttpStatusError)) throw err;
    }
    return { fullDistributions: false, promptLogprobs: false, maxTopK: 0, prefixReuse: true, maxContextTokens: context ?? UNKNOWN_CONTEXT, chatTemplate };
  }
}
