/**
 * Sampling and grading the answers to one problem: what evaluation and stage-1 sampling share.
 *
 * A problem's n completions come from one engine request with one seed, so completion i depends only on
 * (seed, i) (the Engine contract) and results do not depend on concurrency, batching or resumption.
 *
 * Failures are never hidden as samples: a prompt that leaves no room in the model's context for even one
 * generated token is a `PromptTooLongError` (the stage runner records it as the item's error, and summaries
 * count errors), not an empty "truncated" sample. A `maxTokens` beyond the context is said before any sampling
 * starts (`contextWarning`).
 */
import type { Engine, FinishReason, SamplingParams } from "../engines/engine.js";
import type { Problem } from "../data/problem.js";
import { grade, gradeMany, type GradeItem, type GradeResult } from "../grade/index.js";
import { renderPrompt, type PromptPreset } from "./prompts.js";

/** What every sampling stage needs to know to sample a problem's answers. */
export interface SamplingSettings {
  /** Completions per problem. */
  n: number;
  temperature: number;
  topP: number;
  /** Max new tokens per completion. */
  maxTokens: number;
  prompt: PromptPreset;
}

export interface SampledResponse {
  sampleIndex: number;
  /** The completion as generated (without the prompt and without a matched stop string). */
  text: string;
  /** Generated tokens (the engine's token ids). */
  tokens: number;
  finishReason: FinishReason;
  stopReason?: string | number;
  /** The answer the grader extracted; absent when it found none. */
  extracted?: string;
  correct: boolean;
}

/** The run-store columns of a SampledResponse, for every table that stores sampled responses (eval, squeeze). */
export const sampledResponseColumns = {
  sampleIndex: "integer",
  text: "text",
  tokens: "integer",
  finishReason: "text",
  stopReason: { type: "json", optional: true },
  extracted: { type: "text", optional: true },
  correct: "boolean",
} as const;

export interface SampledProblem {
  /** The prompt exactly as sent. */
  prompt: string;
  promptTokens: number;
  /** The stop strings sent with it. */
  stop: string[];
  responses: SampledResponse[];
}

/** An item that cannot be sampled because its prompt fills the model's context. */
export class PromptTooLongError extends Error {
  constructor(
    readonly promptTokens: number,
    readonly contextTokens: number,
  ) {
    super(`the prompt has ${promptTokens} tokens and the model's context is ${contextTokens}: no room to generate (recorded as an error, not as a sample)`);
    this.name = "PromptTooLongError";
  }
}

/**
 * Said before sampling when completions cannot reach `maxTokens` because the model's context is shorter:
 * they will stop at the context (finish reason "length") instead. Null when the settings fit.
 */
export async function contextWarning(engine: Engine, maxTokens: number, flag = "max tokens"): Promise<string | null> {
  const context = (await engine.capabilities()).maxContextTokens;
  if (maxTokens < context) return null;
  return `${flag} ${maxTokens} is not below the model's context of ${context} tokens (prompt + completion): completions stop at the context, and a prompt that fills it is recorded as an error`;
}

/** Checks a prompt against the model's context before generating; throws PromptTooLongError. */
export async function checkPromptFits(engine: Engine, promptTokens: number): Promise<void> {
  const context = (await engine.capabilities()).maxContextTokens;
  if (promptTokens >= context) throw new PromptTooLongError(promptTokens, context);
}

/** Renders the problem's prompt, samples `settings.n` completions with `seed`, and grades them. */
export async function sampleProblem(
  engine: Engine,
  problem: Problem,
  settings: SamplingSettings,
  seed: number,
  opts: { signal?: AbortSignal } = {},
): Promise<SampledProblem> {
  const rendered = await renderPrompt(settings.prompt, problem, engine);
  await checkPromptFits(engine, (await engine.tokenize(rendered.prompt)).length);
  const params: SamplingParams = { temperature: settings.temperature, topP: settings.topP, topK: 0, maxTokens: settings.maxTokens, stop: rendered.stop };
  // The text, not the ids just counted: a server engine tokenizes with its own special-token rules.
  const result = await engine.generate({ prompt: rendered.prompt, n: settings.n, seed, ...params }, { signal: opts.signal });
  if (result.completions.length !== settings.n) throw new Error(`engine returned ${result.completions.length} completions, asked for ${settings.n}`);
  const opensThinking = promptOpensThinking(rendered.prompt);
  // Inline: each call is bounded by the grader's own time budget (1 s), small next to generating a sample.
  const verdicts = gradeMany(result.completions.map((c) => gradeItem(c.text, problem.answer, { promptOpensThinking: opensThinking })));
  return {
    prompt: rendered.prompt,
    promptTokens: result.promptTokens,
    stop: rendered.stop,
    responses: result.completions.map((c, i) => ({
      sampleIndex: c.index,
      text: c.text,
      tokens: c.tokenIds.length,
      finishReason: c.finishReason,
      ...(c.stopReason !== undefined ? { stopReason: c.stopReason } : {}),
      ...(verdicts[i].extracted !== null && verdicts[i].extracted !== undefined ? { extracted: verdicts[i].extracted as string } : {}),
      correct: verdicts[i].equal,
    })),
  };
}

/**
 * How a response is graded, with the project's grader: the final answer is extracted from the text after the
 * last "</think>" (inside <answer> … </answer> when present, the last \boxed{…} first) and compared with the
 * reference by mathematical equivalence. When the prompt itself opened "<think>" (the paper preset, and chat
 * templates that do the same), a response that never closes its thinking was cut off before answering and has
 * no answer (`thinking: "required"`).
 */
export function gradeItem(text: string, reference: string, opts: { promptOpensThinking?: boolean } = {}): GradeItem {
  return { gold: reference, prediction: text, options: { thinking: opts.promptOpensThinking ? "required" : "auto" } };
}

/** Grades one response (what sampleProblem does for every completion). */
export function gradeResponse(text: string, reference: string, opts: { promptOpensThinking?: boolean } = {}): GradeResult {
  const item = gradeItem(text, reference, opts);
  return grade(item.gold, item.prediction, item.options);
}

/** Whether a rendered prompt ends inside an opened <think> block (the response then starts mid-thinking). */
export function promptOpensThinking(prompt: string): boolean {
  return /<think>\s*$/.test(prompt);
}
