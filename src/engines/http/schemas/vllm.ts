/**
 * vLLM's OpenAI-compatible wire format (../shared/docs/ENGINES.md, vLLM ≥ 0.10): the request and response bodies
 * of /v1/completions, /v1/models, /tokenize and /detokenize. The HTTP engine validates every response against
 * these, and `tokensqueeze serve` validates every request with the same request schemas, so both sides of the
 * conformance test speak exactly one definition of the dialect.
 */
import { z } from "zod";

const tokenIds = z.array(z.number().int().min(0));

/** A prompt: text, several texts, token ids, or several token-id lists (OpenAI's four forms). */
export const VllmPromptSchema = z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)]);

/** The fields of POST /v1/completions this project sends (and `serve` understands); others are ignored. */
export const VllmCompletionRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: VllmPromptSchema,
  max_tokens: z.number().int().min(0).nullish(),
  n: z.number().int().min(1).nullish(),
  /** With n > 1, vLLM seeds completion i with seed + i. */
  seed: z.number().int().nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** vLLM extra; -1 or 0 disables. */
  top_k: z.number().int().min(-1).nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  stop_token_ids: tokenIds.nullish(),
  /** Top-k log-probs per generated token. */
  logprobs: z.number().int().min(0).nullish(),
  echo: z.boolean().nullish(),
  /** vLLM extra: top-k log-probs per prompt token (-1: the whole vocabulary, where the server allows it). */
  prompt_logprobs: z.number().int().min(-1).nullish(),
  return_token_ids: z.boolean().nullish(),
  skip_special_tokens: z.boolean().nullish(),
  stream: z.boolean().nullish(),
});
export type VllmCompletionRequest = z.input<typeof VllmCompletionRequestSchema>;

/** One prompt position: the actual token and the top-k, keyed by token id (a JSON object key, so a string). */
export const VllmPromptLogprobEntrySchema = z.record(
  z.string().regex(/^\d+$/, "a token id"),
  z.object({ logprob: z.number(), rank: z.number().int().nullish(), decoded_token: z.string().nullish() }),
);

export const VllmLogprobsSchema = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullish(),
  text_offset: z.array(z.number().int()).nullish(),
});

export const VllmChoiceSchema = z.object({
  index: z.number().int().min(0),
  text: z.string(),
  finish_reason: z.string().nullable(),
  stop_reason: z.union([z.string(), z.number().int()]).nullish(),
  logprobs: VllmLogprobsSchema.nullish(),
  /** The first entry is null: the first prompt token has no context. */
  prompt_logprobs: z.array(VllmPromptLogprobEntrySchema.nullable()).nullish(),
  token_ids: tokenIds.nullish(),
  prompt_token_ids: tokenIds.nullish(),
});
export type VllmChoice = z.output<typeof VllmChoiceSchema>;

export const UsageSchema = z.object({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0).nullish(),
  total_tokens: z.number().int().min(0).nullish(),
});

export const VllmCompletionResponseSchema = z.object({
  id: z.string().optional(),
  object: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(VllmChoiceSchema),
  usage: UsageSchema.nullish(),
});
export type VllmCompletionResponse = z.input<typeof VllmCompletionResponseSchema>;

export const VllmModelCardSchema = z.looseObject({
  id: z.string(),
  object: z.string().optional(),
  max_model_len: z.number().int().positive().nullish(),
  /** Not vLLM's: `tokensqueeze serve` adds the weights' hash so a run records which weights answered. */
  sha256: z.string().optional(),
});
export const VllmModelsResponseSchema = z.object({ object: z.string().optional(), data: z.array(VllmModelCardSchema) });

export const VllmTokenizeRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.string(),
  add_special_tokens: z.boolean().nullish(),
});
export const VllmTokenizeResponseSchema = z.object({
  count: z.number().int().min(0).optional(),
  tokens: tokenIds,
  max_model_len: z.number().int().positive().nullish(),
});

export const VllmDetokenizeRequestSchema = z.looseObject({
  model: z.string().optional(),
  tokens: tokenIds,
  /** Not in vLLM's schema (it ignores unknown fields); `serve` honours it. */
  skip_special_tokens: z.boolean().nullish(),
});
export const VllmDetokenizeResponseSchema = z.object({ prompt: z.string() });

/** vLLM's error body: `{object: "error", message, type, code}` (older: `{error: {message}}`). */
export const ErrorBodySchema = z.union([
  z.object({ message: z.string() }).loose(),
  z.object({ error: z.union([z.string(), z.object({ message: z.string() }).loose()]) }).loose(),
]);
