/**
 * The Ollama dialect: /api/generate once per completion (seed + i for completion i), text prompts only. Ollama
 * has no tokenize endpoint and no prompt log-probs, so tokenize, detokenize and scoring are unavailable. A
 * completion's token ids are the tail of the `context` it returns (prompt + response ids); Ollama leaves `context`
 * out for raw prompts, and then generation fails naming why rather than counting tokens it cannot see.
 */
import type { Completion, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { UNKNOWN_CONTEXT, unsupported, type Dialect, type DialectContext } from "./dialect.js";
import { OllamaGenerateResponseSchema, type OllamaGenerateRequest } from "./schemas/ollama.js";

export class OllamaDialect implements Dialect {
  readonly kind = "ollama" as const;
  constructor(private readonly ctx: DialectContext) {}

  async tokenize(): Promise<number[]> {
    throw unsupported("ollama", "Ollama has no tokenize endpoint (token counts need the model's tokenizer); use --engine llama-server or vllm");
  }

  async detokenize(): Promise<string> {
    throw unsupported("ollama", "Ollama has no detokenize endpoint");
  }

  async applyChatTemplate(): Promise<string> {
    throw unsupported("ollama", "Ollama renders no chat template on its own; use --prompt paper");
  }

  async generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
    if (typeof request.prompt !== "string") throw unsupported("ollama", "Ollama takes text prompts only");
    if (this.ctx.model === undefined) throw unsupported("ollama", "Ollama needs --served-model (the model's name in `ollama list`)");
    const prompt = request.prompt;
    const model = this.ctx.model;
    let promptTokens = 0;
    const completions = await Promise.all(
      Array.from({ length: request.n }, async (_, index): Promise<Completion> => {
        const body: OllamaGenerateRequest = {
          model,
          prompt,
          // The prompt is already rendered: Ollama must not wrap it in the model's template again.
          raw: true,
          stream: false,
          options: {
            temperature: request.temperature,
            top_p: request.topP,
            top_k: request.topK,
            seed: request.seed + index,
            num_predict: request.maxTokens,
            ...(request.stop?.length ? { stop: [...request.stop] } : {}),
          },
        };
        const res = await this.ctx.transport.request("POST", "/api/generate", body, OllamaGenerateResponseSchema, { signal });
        promptTokens = res.prompt_eval_count ?? promptTokens;
        this.ctx.usage.promptTokens += res.prompt_eval_count ?? 0;
        this.ctx.usage.completionTokens += res.eval_count ?? 0;
        const generated = res.eval_count ?? 0;
        if (res.context === undefined) throw new Error("ollama: the response has no context token ids, so the completion's tokens cannot be counted");
        return {
          index,
          text: res.response,
          tokenIds: generated > 0 ? res.context.slice(-generated) : [],
          finishReason: res.done_reason === "length" ? "length" : "stop",
        };
      }),
    );
    return { completions, promptTokens };
  }

  async scoreIds(): Promise<ScoredContinuation[]> {
    throw unsupported("ollama", "Ollama returns log-probs of generated tokens only, not of given ones, which scoring needs; use --engine vllm or sglang");
  }

  async probeCapabilities(): Promise<EngineCapabilities> {
    return { fullDistributions: false, promptLogprobs: false, maxTopK: 0, prefixReuse: true, maxContextTokens: this.ctx.maxContextTokens ?? UNKNOWN_CONTEXT, chatTemplate: false };
  }
}
