/**
 * What each server dialect implements for the HTTP engine. The engine does everything dialect-independent
 * (turning text into token ids before scoring, windows, argument checks, caching capabilities); a dialect only
 * maps requests and responses to one server's wire format (the zod schemas under ./schemas/).
 */
import type { ServerEngineKind } from "../../config/schema.js";
import type { ChatMessage, DistributionKind, EngineCapabilities, GenerateRequest, GenerateResult, ScoredContinuation } from "../engine.js";
import { UserError } from "../../util/errors.js";
import type { HttpTransport } from "./transport.js";

/** The dialects are the config's server engine kinds. */
export type ServerKind = ServerEngineKind;

export interface ScoreIdsRequest {
  prefix: number[];
  /** Already windowed. */
  continuations: number[][];
  distributions: DistributionKind;
  topK?: number;
}

/** Token counts the servers reported in `usage` (or their native counters). */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface DialectContext {
  transport: HttpTransport;
  /** The served model name sent in requests (undefined: the server's only model). */
  model: string | undefined;
  usage: TokenUsage;
  /** The longest context, when the opening probe learned it. */
  maxContextTokens?: number;
}

export interface Dialect {
  readonly kind: ServerKind;
  tokenize(text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]>;
  detokenize(ids: readonly number[], skipSpecialTokens: boolean, signal?: AbortSignal): Promise<string>;
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean): Promise<string>;
  generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult>;
  scoreIds(request: ScoreIdsRequest, signal?: AbortSignal): Promise<ScoredContinuation[]>;
  /** Asks the server what it can do (a few tiny requests, once per engine). */
  probeCapabilities(): Promise<EngineCapabilities>;
}

/** vLLM clamps -inf to -9999.0 in JSON; read it back as what it stands for. */
export function unclamp(logprob: number): number {
  return logprob <= -9999 ? -Infinity : logprob;
}

/**
 * Full next-token distributions cross HTTP only for small vocabularies: beyond this, a distribution per scored
 * position costs more to send and parse than the top-k estimator loses (a 150k vocabulary is ~3 MB per position).
 */
export const MAX_FULL_DISTRIBUTION_VOCAB = 4096;

/** A server that never told its context length enforces its own; callers' fit checks then never trigger. */
export const UNKNOWN_CONTEXT = Number.POSITIVE_INFINITY;

/** What a server cannot do is the user's choice of engine to change: exit 2 with the alternative named. */
export function unsupported(kind: ServerKind, what: string): UserError {
  return new UserError(`engine ${kind}: ${what}`);
}
