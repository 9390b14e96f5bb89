/**
 * SGLang's native wire format (../shared/docs/ENGINES.md, SGLang ≥ 0.4): POST /generate and GET
 * /get_model_info. Log-prob entries are `[logprob, token_id, text]` triples; with `logprob_start_len = s`,
 * `input_token_logprobs[j]` is the prompt token at position s + j (the entry for position 0 has a null logprob,
 * as it has no context), and `input_top_logprobs[j]` its top-k list.
 */
import { z } from "zod";

const tokenIds = z.array(z.number().int().min(0));

export const SglangSamplingParamsSchema = z.looseObject({
  max_new_tokens: z.number().int().min(0).optional(),
  temperature: z.number().min(0).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  /** -1 disables. */
  top_k: z.number().int().optional(),
  n: z.number().int().min(1).optional(),
  stop: z.array(z.string()).optional(),
  stop_token_ids: tokenIds.optional(),
  skip_special_tokens: z.boolean().optional(),
  /** Per-request seed (recent SGLang). */
  sampling_seed: z.number().int().optional(),
});

export const SglangGenerateRequestSchema = z.looseObject({
  text: z.union([z.string(), z.array(z.string())]).optional(),
  input_ids: z.union([tokenIds, z.array(tokenIds)]).optional(),
  sampling_params: SglangSamplingParamsSchema,
  return_logprob: z.boolean().optional(),
  logprob_start_len: z.number().int().min(-1).optional(),
  top_logprobs_num: z.number().int().min(0).optional(),
  return_text_in_logprobs: z.boolean().optional(),
});
export type SglangGenerateRequest = z.input<typeof SglangGenerateRequestSchema>;

/** `[logprob, token_id, text]`; the logprob is null for the first prompt token. */
export const SglangLogprobEntrySchema = z.tuple([z.number().nullable(), z.number().int().min(0), z.string().nullish()]);

export const SglangMetaInfoSchema = z.looseObject({
  id: z.string().optional(),
  finish_reason: z
    .union([z.looseObject({ type: z.string(), matched: z.union([z.string(), z.number().int()]).nullish() }), z.null()])
    .optional(),
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
  cached_tokens: z.number().int().min(0).optional(),
  input_token_logprobs: z.array(SglangLogprobEntrySchema).nullish(),
  output_token_logprobs: z.array(SglangLogprobEntrySchema).nullish(),
  input_top_logprobs: z.array(z.array(SglangLogprobEntrySchema).nullable()).nullish(),
  output_top_logprobs: z.array(z.array(SglangLogprobEntrySchema).nullable()).nullish(),
});

export const SglangGenerateItemSchema = z.looseObject({
  text: z.string(),
  output_ids: tokenIds.optional(),
  meta_info: SglangMetaInfoSchema,
});
export type SglangGenerateItem = z.output<typeof SglangGenerateItemSchema>;

/** One item for one prompt with n = 1; a list for a batch of prompts or n > 1 (prompt-major). */
export const SglangGenerateResponseSchema = z.union([SglangGenerateItemSchema, z.array(SglangGenerateItemSchema)]);

export const SglangModelInfoSchema = z.looseObject({
  model_path: z.string(),
  tokenizer_path: z.string().nullish(),
  is_generation: z.boolean().optional(),
});
