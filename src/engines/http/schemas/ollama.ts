/**
 * Ollama's native wire format (≥ 0.12.11, ../shared/docs/ENGINES.md): POST /api/generate (non-streaming,
 * raw prompts) and GET /api/tags (the models it has). Log-probs come for generated tokens only, so scoring is
 * unavailable.
 */
import { z } from "zod";

export const OllamaGenerateRequestSchema = z.looseObject({
  model: z.string(),
  prompt: z.string(),
  raw: z.boolean().optional(),
  stream: z.literal(false),
  options: z.looseObject({
    temperature: z.number().min(0).optional(),
    top_p: z.number().optional(),
    top_k: z.number().int().optional(),
    seed: z.number().int().optional(),
    num_predict: z.number().int().optional(),
    stop: z.array(z.string()).optional(),
  }),
});
export type OllamaGenerateRequest = z.input<typeof OllamaGenerateRequestSchema>;

export const OllamaGenerateResponseSchema = z.looseObject({
  model: z.string().optional(),
  response: z.string(),
  done: z.boolean(),
  /** "stop" | "length" (and "load"/"unload" for model management, never for a generation). */
  done_reason: z.string().optional(),
  /** Token ids of prompt + response (deprecated by Ollama but still returned for non-raw requests). */
  context: z.array(z.number().int().min(0)).optional(),
  prompt_eval_count: z.number().int().min(0).optional(),
  eval_count: z.number().int().min(0).optional(),
});

export const OllamaTagsSchema = z.object({ models: z.array(z.looseObject({ name: z.string() })) });
