/**
 * The vLLM-compatible endpoints over an Engine: /v1/completions, /tokenize, /detokenize and /v1/models. Requests
 * are validated with the vLLM dialect's own zod schemas (src/engines/http/schemas/vllm.ts), so the client and
 * this server share one definition of the wire format. A bad request is a `BadRequest` (answered 400).
 */
import { randomInt } from "node:crypto";
import type { z } from "zod";
import type { Completion, Engine, PromptInput } from "../engines/engine.js";
import {
  VllmCompletionRequestSchema,
  VllmDetokenizeRequestSchema,
  VllmTokenizeRequestSchema,
  type VllmCompletionResponse,
} from "../engines/http/schemas/vllm.js";
import { clampLogprob, computePromptLogprobs, type PieceSource, type PromptLogprobs } from "./prompt-logprobs.js";
import type { ServeMetrics } from "./metrics.js";

export class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "BadRequest";
  }
}

export interface ServedModel {
  /** The name clients send as `model` (and /v1/models lists). */
  name: string;
  /** The folder it was loaded from. */
  root: string;
  maxModelLen: number;
  vocabSize: number;
  sha256?: string;
  /** Largest `logprobs` / `prompt_logprobs` k accepted; -1 also allows -1 (the whole vocabulary). */
  maxLogprobs: number;
  pieces: TokenPieces;
}

/** The text of single tokens, as log-prob answers show them; a token's text never changes, so it is kept. */
export class TokenPieces {
  private readonly known = new Map<number, string>();
  private readonly pending = new Map<number, Promise<void>>();

  get(id: number): string {
    return this.known.get(id) ?? "";
  }

  async learn(engine: Engine, ids: readonly number[]): Promise<void> {
    await Promise.all(
      [...new Set(ids)]
        .filter((id) => !this.known.has(id))
        .map((id) => {
          let p = this.pending.get(id);
          if (p === undefined) {
            p = engine.detokenize([id], { skipSpecialTokens: false }).then((text) => {
              this.known.set(id, text);
            });
            this.pending.set(id, p);
          }
          return p;
        }),
    );
  }
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadRequest(`${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return parsed.data;
}

export function modelsResponse(m: ServedModel): unknown {
  return {
    object: "list",
    data: [{ id: m.name, object: "model", created: 0, owned_by: "tokensqueeze", root: m.root, max_model_len: m.maxModelLen, ...(m.sha256 ? { sha256: m.sha256 } : {}) }],
  };
}

function checkModel(m: ServedModel, asked: string | undefined): void {
  if (asked !== undefined && asked !== m.name) throw new BadRequest(`The model \`${asked}\` does not exist (this server serves \`${m.name}\`).`, 404);
}

function checkK(m: ServedModel, field: string, k: number): void {
  const ok = k === -1 ? m.maxLogprobs === -1 : m.maxLogprobs === -1 || k <= m.maxLogprobs;
  if (!ok) throw new BadRequest(`${field}: requested ${k}, which is more than the server allows (${m.maxLogprobs}; --max-logprobs)`);
}

export async function tokenize(engine: Engine, m: ServedModel, body: unknown): Promise<unknown> {
  // vLLM's /tokenize takes `prompt` or chat `messages` (rendered with the model's template, no special tokens added).
  const withMessages = body !== null && typeof body === "object" && "messages" in body;
  let tokens: number[];
  if (withMessages) {
    const b = body as { model?: unknown; messages?: unknown; add_generation_prompt?: unknown; add_special_tokens?: unknown };
    if (b.model !== undefined && typeof b.model !== "string") throw new BadRequest("model: expected a string");
    checkModel(m, b.model as string | undefined);
    const messages = b.messages;
    if (!Array.isArray(messages) || !messages.every((x) => x && typeof x === "object" && ["system", "user", "assistant"].includes((x as { role?: unknown }).role as string) && typeof (x as { content?: unknown }).content === "string")) {
      throw new BadRequest("messages: expected a list of {role: system|user|assistant, content: string}");
    }
    if ((await engine.capabilities()).chatTemplate === false) throw new BadRequest("messages: the model has no chat template");
    const text = await engine.applyChatTemplate(messages as Array<{ role: "system" | "user" | "assistant"; content: string }>, { addGenerationPrompt: b.add_generation_prompt !== false });
    tokens = await engine.tokenize(text, { addSpecialTokens: b.add_special_tokens === true });
  } else {
    const req = parseBody(VllmTokenizeRequestSchema, body);
    checkModel(m, req.model);
    tokens = await engine.tokenize(req.prompt, { addSpecialTokens: req.add_special_tokens ?? true });
  }
  return { count: tokens.length, tokens, max_model_len: m.maxModelLen };
}

export async function detokenize(engine: Engine, m: ServedModel, body: unknown): Promise<unknown> {
  const req = parseBody(VllmDetokenizeRequestSchema, body);
  checkModel(m, req.model);
  const bad = req.tokens.find((t) => t >= m.vocabSize);
  if (bad !== undefined) throw new BadRequest(`tokens: token id ${bad} is outside the vocabulary (0…${m.vocabSize - 1})`);
  return { prompt: await engine.detokenize(req.tokens, { skipSpecialTokens: req.skip_special_tokens ?? false }) };
}

/** POST /v1/completions; the answer is JSON text (vLLM's completion response). */
export async function completions(engine: Engine, m: ServedModel, body: unknown, metrics: ServeMetrics, signal: AbortSignal): Promise<string> {
  const req = parseBody(VllmCompletionRequestSchema, body);
  checkModel(m, req.model);
  if (req.stream) throw new BadRequest("stream: streaming is not supported by tokensqueeze serve");
  if (req.logprobs != null) checkK(m, "logprobs", req.logprobs);
  if (req.prompt_logprobs != null) checkK(m, "prompt_logprobs", req.prompt_logprobs);
  const prompts = promptList(req.prompt);
  const n = req.n ?? 1;
  const maxTokens = req.max_tokens ?? 16;
  const seed = req.seed ?? randomInt(0, 2 ** 31);
  const ids = await Promise.all(prompts.map((p) => (typeof p === "string" ? engine.tokenize(p, { addSpecialTokens: true }) : Promise.resolve([...p]))));
  for (const [i, p] of ids.entries()) {
    if (p.length === 0) throw new BadRequest(`prompt${prompts.length > 1 ? `[${i}]` : ""}: the prompt has no tokens`);
    const bad = p.find((t) => t >= m.vocabSize);
    if (bad !== undefined) throw new BadRequest(`prompt: token id ${bad} is outside the vocabulary (0…${m.vocabSize - 1})`);
    if (p.length + maxTokens > m.maxModelLen) throw new BadRequest(`This model's maximum context length is ${m.maxModelLen} tokens; the prompt has ${p.length} and max_tokens is ${maxTokens}.`);
  }
  const promptLp = req.prompt_logprobs != null ? await computePromptLogprobs(engine, ids, req.prompt_logprobs, m.pieces) : null;
  // prompt_logprobs are spliced into the answer as JSON text (see PromptLogprobs.json) in place of these markers.
  const marker = (p: number): string => `__prompt_logprobs_${nonce}_${p}__`;
  const nonce = randomInt(0, 2 ** 47).toString(36);
  const sampling = { temperature: req.temperature ?? 1, topP: req.top_p ?? 1, topK: req.top_k != null && req.top_k > 0 ? req.top_k : 0 };
  const stop = req.stop == null ? undefined : typeof req.stop === "string" ? [req.stop] : req.stop;
  // Every prompt of a batch generates at once: the engine batches concurrent requests (a scoring batch of c
  // candidates costs one batched step, not c sequential ones).
  const perPrompt = await Promise.all(
    ids.map(async (promptIds, p) => {
      const generated: Completion[] =
        maxTokens === 0
          ? Array.from({ length: n }, (_, index) => ({ index, text: "", tokenIds: [], finishReason: "length" as const }))
          : (await engine.generate({ prompt: promptIds, n, seed, maxTokens, stop, stopTokenIds: req.stop_token_ids ?? undefined, ...sampling }, { signal })).completions;
      const promptText = req.echo ? await engine.detokenize(promptIds, { skipSpecialTokens: false }) : "";
      return Promise.all(
        generated.map(async (c) => ({
          index: p * n + c.index,
          text: promptText + c.text,
          logprobs: req.logprobs != null ? await generatedLogprobs(engine, promptIds, c, req.logprobs, req.echo === true, promptLp, p, m.pieces) : null,
          finish_reason: c.finishReason,
          stop_reason: c.finishReason === "stop" ? (c.stopReason ?? null) : null,
          ...(promptLp ? { prompt_logprobs: marker(p) } : {}),
          ...(req.return_token_ids ? { token_ids: c.tokenIds, prompt_token_ids: promptIds } : {}),
          generatedTokens: c.tokenIds.length,
        })),
      );
    }),
  );
  let completionTokens = 0;
  const choices = perPrompt.flat().map(({ generatedTokens, ...choice }) => {
    completionTokens += generatedTokens;
    return choice;
  });
  const promptTokens = ids.reduce((a, p) => a + p.length, 0);
  metrics.promptTokens += promptTokens;
  metrics.generationTokens += completionTokens;
  const answer = {
    id: `cmpl-${randomInt(0, 2 ** 47).toString(16)}`,
    object: "text_completion",
    model: m.name,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
  let text = JSON.stringify(answer);
  if (promptLp) ids.forEach((_, p) => (text = text.split(JSON.stringify(marker(p))).join(promptLp.json(p))));
  return text;
}

function promptList(prompt: z.output<typeof VllmCompletionRequestSchema>["prompt"]): PromptInput[] {
  if (typeof prompt === "string") return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === "number") return [prompt as number[]];
  return prompt as PromptInput[];
}

/** OpenAI `logprobs` for a completion (with echo, the prompt's tokens first, the very first one null). */
async function generatedLogprobs(
  engine: Engine,
  promptIds: number[],
  c: Completion,
  k: number,
  echo: boolean,
  promptLp: PromptLogprobs | null,
  p: number,
  pieces: PieceSource,
): Promise<NonNullable<VllmCompletionResponse["choices"][number]["logprobs"]>> {
  const scored = c.tokenIds.length > 0 ? (await engine.score({ prefix: promptIds, continuations: [c.tokenIds], distributions: k > 0 ? "topk" : "none", topK: k })).continuations[0] : null;
  let echoed: { ids: number[]; lps: Array<number | null>; tops: Array<Array<[number, number]> | null> } = { ids: [], lps: [], tops: [] };
  if (echo) {
    const entries = promptLp ? promptLp.entries(p) : (await computePromptLogprobs(engine, [promptIds], k, pieces)).entries(0);
    echoed = {
      ids: promptIds,
      lps: entries.map((e, j) => (e ? (e[String(promptIds[j])]?.logprob ?? null) : null)),
      tops: entries.map((e) =>
        e
          ? Object.entries(e)
              .map(([id, v]): [number, number] => [Number(id), v.logprob])
              .sort((a, b) => b[1] - a[1])
              .slice(0, k)
          : null,
      ),
    };
  }
  const ids = [...echoed.ids, ...c.tokenIds];
  const tops = [...echoed.tops, ...(scored?.topLogprobs ?? c.tokenIds.map(() => []))];
  await pieces.learn(engine, [...ids, ...tops.flatMap((t) => (t ? t.map(([id]) => id) : []))]);
  const piece = (id: number): string => pieces.get(id);
  const tokens = ids.map(piece);
  const offsets: number[] = [];
  let at = 0;
  for (const t of tokens) {
    offsets.push(at);
    at += t.length;
  }
  return {
    tokens,
    token_logprobs: [...echoed.lps, ...(scored?.logprobs ?? []).map(clampLogprob)],
    top_logprobs: tops.map((t) => (t === null ? null : Object.fromEntries(t.map(([id, lp]) => [piece(id), clampLogprob(lp)])))),
    text_offset: offsets,
  };
}
