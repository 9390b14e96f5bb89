/**
 * The plain OpenAI /v1/completions format (any compatible server): only the fields every implementation has.
 * Token ids of a completion are not part of it; servers that return them (vLLM's `return_token_ids`) are read.
 */
import { z } from "zod";

const tokenIds = z.array(z.number().int().min(0));

export const OpenAICompletionRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.union([z.string(), tokenIds]),
  max_tokens: z.number().int().min(0),
  n: z.number().int().min(1),
  seed: z.number().int().optional(),
  temperature: z.number().min(0),
  top_p: z.number().gt(0).max(1),
  stop: z.array(z.string()).optional(),
});
export type OpenAICompletionRequest = z.input<typeof OpenAICompletionRequestSchema>;

export const OpenAICompletionResponseSchema = z.object({
  choices: z.array(
    z.looseObject({
      index: z.number().int().min(0),
      text: z.string(),
      finish_reason: z.string().nullable(),
      token_ids: tokenIds.nullish(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0).nullish() }).nullish(),
});

export const OpenAIModelsResponseSchema = z.object({ data: z.array(z.looseObject({ id: z.string() })) });
