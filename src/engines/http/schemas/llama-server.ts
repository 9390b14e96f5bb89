/**
 * llama.cpp's server (llama-server) native wire format (../shared/docs/ENGINES.md): /completion, /tokenize,
 * /detokenize, /apply-template, /props. It cannot return log-probs of prompt tokens.
 */
import { z } from "zod";

const tokenIds = z.array(z.number().int().min(0));

export const LlamaCompletionRequestSchema = z.looseObject({
  prompt: z.union([z.string(), tokenIds]),
  n_predict: z.number().int(),
  temperature: z.number().min(0),
  top_k: z.number().int(),
  top_p: z.number(),
  seed: z.number().int(),
  stop: z.array(z.string()).optional(),
  n_probs: z.number().int().min(0).optional(),
  cache_prompt: z.boolean().optional(),
  return_tokens: z.boolean().optional(),
  stream: z.literal(false).optional(),
});
export type LlamaCompletionRequest = z.input<typeof LlamaCompletionRequestSchema>;

export const LlamaCompletionResponseSchema = z.looseObject({
  content: z.string(),
  tokens: tokenIds.nullish(),
  /** "eos" | "word" (a stop string) | "limit" (n_predict) | "none". */
  stop_type: z.string().optional(),
  stopping_word: z.string().nullish(),
  stopped_eos: z.boolean().optional(),
  stopped_limit: z.boolean().optional(),
  stopped_word: z.boolean().optional(),
  tokens_predicted: z.number().int().min(0).optional(),
  tokens_evaluated: z.number().int().min(0).optional(),
});

export const LlamaTokenizeResponseSchema = z.object({ tokens: z.array(z.union([z.number().int(), z.looseObject({ id: z.number().int() })])) });
export const LlamaDetokenizeResponseSchema = z.object({ content: z.string() });
export const LlamaApplyTemplateResponseSchema = z.object({ prompt: z.string() });
export const LlamaPropsSchema = z.looseObject({
  default_generation_settings: z.looseObject({ n_ctx: z.number().int().positive().optional() }).optional(),
  model_path: z.string().optional(),
  chat_template: z.string().optional(),
});
