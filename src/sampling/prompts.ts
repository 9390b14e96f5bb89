/**
 * Prompt presets for every stage that samples answers to problems (evaluation, stage-1 sampling, refinement).
 *
 * `paper` — the TokenSqueeze paper's template, a plain-text prompt (no chat template): reasoning inside
 * <think> … </think>, the final answer inside <answer> … </answer> with the result in \boxed{}. The wording is
 * the project's own (the paper gives the structure, not the exact text):
 *
 *     A conversation between User and Assistant. The User asks a question and the Assistant solves it. The
 *     Assistant first thinks through the reasoning step by step inside <think> </think> tags, then gives the
 *     answer inside <answer> </answer> tags with the final result in \boxed{}, i.e.
 *     <think> reasoning here </think> <answer> answer here, final result \boxed{...} </answer>.
 *     User: {question}
 *     Assistant: <think>
 *
 * The prompt ends with an opened "<think>\n" so the response is the thinking, "</think>", then the answer
 * (the layout stage 2 splits into steps). Generation stops at "</answer>": everything after it is not part of
 * the answer and would only add tokens (the stop string is not counted, as vLLM/OpenAI do not count it either).
 *
 * `chat` — the model's own chat template (Engine.applyChatTemplate, with the generation prompt), one user
 * message: the question followed by DeepSeek's recommended instruction for R1-style models,
 * "Please reason step by step, and put your final answer within \boxed{}." No stop strings: the template's
 * end-of-turn token ends generation.
 */
import type { Engine } from "../engines/engine.js";
import type { Problem } from "../data/problem.js";
import { UserError } from "../util/errors.js";

export const promptPresets = ["paper", "chat"] as const;
export type PromptPreset = (typeof promptPresets)[number];

export interface RenderedPrompt {
  prompt: string;
  stop: string[];
}

export const PAPER_SYSTEM =
  "A conversation between User and Assistant. The User asks a question and the Assistant solves it. " +
  "The Assistant first thinks through the reasoning step by step inside <think> </think> tags, then gives the " +
  "answer inside <answer> </answer> tags with the final result in \\boxed{}, i.e. " +
  "<think> reasoning here </think> <answer> answer here, final result \\boxed{...} </answer>.";

export const CHAT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

export function paperPrompt(question: string): RenderedPrompt {
  return { prompt: `${PAPER_SYSTEM}\nUser: ${question.trim()}\nAssistant: <think>\n`, stop: ["</answer>"] };
}

export function chatUserMessage(question: string): string {
  return `${question.trim()}\n\n${CHAT_INSTRUCTION}`;
}

export async function renderPrompt(preset: PromptPreset, problem: Problem, engine: Engine): Promise<RenderedPrompt> {
  switch (preset) {
    case "paper":
      return paperPrompt(problem.question);
    case "chat": {
      const prompt = await engine.applyChatTemplate([{ role: "user", content: chatUserMessage(problem.question) }], {
        addGenerationPrompt: true,
      });
      return { prompt, stop: [] };
    }
  }
}

/** Checked before any sampling: the chat preset needs a model with a chat template. */
export async function checkPromptPreset(preset: string, engine: Engine): Promise<PromptPreset> {
  if (!(promptPresets as readonly string[]).includes(preset)) {
    throw new UserError(`--prompt: unknown prompt preset "${preset}" (presets: ${promptPresets.join(", ")})`);
  }
  if (preset === "chat" && !(await engine.capabilities()).chatTemplate) {
    throw new UserError(`--prompt chat: the model ${engine.identity.name} has no chat template (use --prompt paper)`);
  }
  return preset as PromptPreset;
}
