/**
 * An Engine over a model server (vLLM, SGLang, llama-server, Ollama or any OpenAI-compatible server), through
 * one of the dialects and the shared transport (retries, replicas, timeouts). Opening, which probes the servers
 * and learns the model's identity, is `openHttpEngine` in ./open.ts.
 *
 * Scoring always sends token ids: text is tokenized by the server first (with special tokens, as the embedded
 * engine does), windows cut the continuation before it is sent (later tokens cannot change earlier log-probs),
 * and the dialect reads the continuation's positions back.
 */
import type {
  ChatMessage,
  Engine,
  EngineCapabilities,
  GenerateRequest,
  GenerateResult,
  ModelIdentity,
  PromptInput,
  ScoreRequest,
  ScoreResult,
} from "../engine.js";
import { UserError } from "../../util/errors.js";
import { checkGenerateRequest } from "../check-request.js";
import type { Dialect, TokenUsage } from "./dialect.js";
import type { HttpTransport, TransportStats } from "./transport.js";

export interface HttpEngineUsage extends TokenUsage, TransportStats {}

export class HttpEngine implements Engine {
  private caps: Promise<EngineCapabilities> | null = null;

  constructor(
    readonly identity: ModelIdentity,
    private readonly dialect: Dialect,
    private readonly transport: HttpTransport,
    private readonly tokens: TokenUsage,
  ) {}

  /** Probed once (a few tiny requests); a failed probe is tried again on the next call. */
  capabilities(): Promise<EngineCapabilities> {
    if (this.caps === null) {
      this.caps = this.dialect.probeCapabilities();
      this.caps.catch(() => {
        this.caps = null;
      });
    }
    return this.caps;
  }

  /** Tokens the servers reported (`usage`), and the transport's request/retry/replica counters. */
  usage(): HttpEngineUsage {
    return { ...this.tokens, ...this.transport.stats() };
  }

  tokenize(text: string, opts: { addSpecialTokens?: boolean } = {}): Promise<number[]> {
    return this.dialect.tokenize(text, opts.addSpecialTokens ?? true);
  }

  detokenize(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    return this.dialect.detokenize(ids, opts.skipSpecialTokens ?? true);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): Promise<string> {
    return this.dialect.applyChatTemplate(messages, opts.addGenerationPrompt ?? true);
  }

  async generate(request: GenerateRequest, opts: { signal?: AbortSignal } = {}): Promise<GenerateResult> {
    checkGenerateRequest(request);
    if (typeof request.prompt !== "string" && request.prompt.length === 0) throw new UserError("generate: the prompt has no tokens");
    return this.dialect.generate(request, opts.signal);
  }

  async score(request: ScoreRequest, opts: { signal?: AbortSignal } = {}): Promise<ScoreResult> {
    if (request.distributions === "topk" && !(Number.isInteger(request.topK) && (request.topK as number) > 0)) throw new UserError("score: distributions 'topk' needs a positive topK");
    if (request.window !== undefined && !(Number.isInteger(request.window) && request.window >= 0)) throw new UserError(`score: window must be a non-negative integer, got ${request.window}`);
    const ids = (p: PromptInput): Promise<number[]> => (typeof p === "string" ? this.tokenize(p, { addSpecialTokens: true }) : Promise.resolve([...p]));
    const [prefix, ...conts] = await Promise.all([ids(request.prefix), ...request.continuations.map(ids)]);
    if (prefix.length === 0) throw new UserError("score: the prefix has no tokens (the first continuation token needs context)");
    const windowed = conts.map((c) => (request.window === undefined ? c : c.slice(0, request.window)));
    const continuations = await this.dialect.scoreIds({ prefix, continuations: windowed, distributions: request.distributions, topK: request.topK }, opts.signal);
    return { prefixTokens: prefix.length, continuations };
  }

  /** Nothing to release: connections belong to Node's shared HTTP pool and close when idle. */
  async close(): Promise<void> {}
}

