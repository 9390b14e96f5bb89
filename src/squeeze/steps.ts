/**
 * Reasoning steps (METHOD.md stage 2, step 1): a response's thinking split on blank lines, the final answer after
 * `</think>` kept unchanged [decision].
 *
 *   response = head + step₀ + sep₀ + step₁ + … + stepₙ₋₁ + tail
 *
 * `head` is an opening `<think>` with the whitespace after it (present when the response opens its own thinking,
 * as under a chat template; empty when the prompt opened it); separators are the runs of two or more newlines
 * between steps (a line break and one or more blank lines); `tail` is the whitespace before `</think>`, `</think>` and everything after it. Joining the parts
 * gives back the response exactly, so a refined response is the same join with some steps replaced.
 *
 * A response without `</think>` has no steps: all of it is tail (nothing is refined). Such a response was cut off
 * or never thought; under a prompt that opened the thinking it is graded incorrect and is never chosen.
 */

export const STEP_DELIMITER = "\n\n";
export const THINK_OPEN = "<think>";
export const THINK_CLOSE = "</think>";

export interface SplitResponse {
  head: string;
  steps: string[];
  /** separators[i] follows steps[i]; one fewer than steps. */
  separators: string[];
  tail: string;
}

export function splitSteps(response: string): SplitResponse {
  const close = response.indexOf(THINK_CLOSE);
  if (close < 0) return { head: "", steps: [], separators: [], tail: response };
  // Leading whitespace (and an opening <think>) is head, as trailing whitespace is tail: no step is empty.
  const open = /^\s*(?:<think>\s*)?/.exec(response) as RegExpExecArray;
  const start = Math.min(open[0].length, close);
  const head = response.slice(0, start);
  const thinking = response.slice(start, close);
  const body = thinking.replace(/\s+$/, "");
  const tail = thinking.slice(body.length) + response.slice(close);
  if (body === "") return { head, steps: [], separators: [], tail };
  // A separator is a line break followed by blank lines (spaces allowed on them, \r\n too); split with a capture
  // group alternates step, separator, step, …
  const parts = body.split(/(\r?\n(?:[ \t]*\r?\n)+)/);
  const steps: string[] = [];
  const separators: string[] = [];
  parts.forEach((part, i) => (i % 2 === 0 ? steps : separators).push(part));
  return { head, steps, separators, tail };
}

/** The response with its steps replaced (same count): the inverse of splitSteps. */
export function joinSteps(split: SplitResponse, steps: readonly string[] = split.steps): string {
  if (steps.length !== split.steps.length) throw new RangeError(`joinSteps: ${steps.length} steps for ${split.steps.length} places`);
  let out = split.head;
  steps.forEach((s, i) => {
    out += s;
    if (i < split.separators.length) out += split.separators[i];
  });
  return out + split.tail;
}

/** The text before step i (head, earlier steps and their separators): what a candidate for step i continues. */
export function textBeforeStep(split: SplitResponse, i: number): string {
  let out = split.head;
  for (let j = 0; j < i; j++) out += split.steps[j] + split.separators[j];
  return out;
}

/** The text after step i (its separator, the later steps, the tail): the original continuation t. */
export function textAfterStep(split: SplitResponse, i: number): string {
  let out = "";
  for (let j = i; j < split.steps.length; j++) {
    if (j > i) out += split.steps[j];
    if (j < split.separators.length) out += split.separators[j];
  }
  return out + split.tail;
}
