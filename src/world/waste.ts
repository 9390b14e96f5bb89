/**
 * Where a world model's correct answers spend their tokens, in the world's own terms: how much of Len-T a squeeze
 * could drop without costing accuracy, and how much of what it dropped was useful work.
 *
 * - wording: tokens a step spends beyond its shortest phrasing (the same content in fewer words);
 * - idle checks: checks that cannot change the answer: every reflection on levels 1–2 (the world's easy levels
 *   only ever confirm) and the closing verifications, which restate the result the work gave;
 * - useful checks: the re-checks and corrections on levels 3–5, which recompute an operation and catch real errors.
 *   A model cannot know before checking which of them will merely confirm, so dropping them costs accuracy.
 *
 * Wording and idle checks together are the free waste: what a perfect squeeze could drop at no accuracy cost. The
 * paper's finding (half the length at the same accuracy) needs a model whose free waste is at least that large.
 */
import { analyzeResponse, isReflection } from "./analysis.js";
import { EASY_LEVELS } from "./report.js";

export interface WasteSample {
  level: number;
  text: string;
  /** The response's token count (the one Len-T averages). */
  tokens: number;
  correct: boolean | number;
}

/** Means over the correct answers, in tokens per answer. */
export interface WasteProfile {
  answers: number;
  /** Mean tokens per correct answer: Len-T. */
  lenT: number;
  wording: number;
  idleChecks: number;
  usefulChecks: number;
  /**
   * Share of the thinking tokens of all samples (correct or not) in steps the analysis recognised, in %: the
   * figures above ignore the rest, and a model that does not write the world's steps gets a low figure here.
   */
  recognised: number;
  /** (wording + idle checks) / Len-T, in %. */
  freeWasteShare: number;
}

export function wasteProfile(samples: readonly WasteSample[], countTokens: (text: string) => number): WasteProfile {
  let answers = 0;
  let tokens = 0;
  let wording = 0;
  let idle = 0;
  let useful = 0;
  let thinking = 0;
  let unknown = 0;
  for (const s of samples) {
    const isCorrect = s.correct === true || s.correct === 1;
    if (isCorrect) {
      answers++;
      tokens += s.tokens;
    }
    const easy = (EASY_LEVELS as readonly number[]).includes(s.level);
    for (const step of analyzeResponse(s.text).steps) {
      const n = countTokens(step.text);
      thinking += n;
      if (step.shortest === null) unknown += n;
      if (step.shortest === null || !isCorrect) continue;
      if ((easy && isReflection(step.kind)) || step.kind === "verify") idle += n;
      else if (isReflection(step.kind)) useful += n;
      else wording += Math.max(0, n - countTokens(step.shortest));
    }
  }
  const per = (x: number): number => (answers === 0 ? 0 : Math.round((10 * x) / answers) / 10);
  const share = (x: number, of: number): number => (of === 0 ? 0 : Math.round((1000 * x) / of) / 10);
  return {
    answers,
    lenT: per(tokens),
    wording: per(wording),
    idleChecks: per(idle),
    usefulChecks: per(useful),
    recognised: share(thinking - unknown, thinking),
    freeWasteShare: share(wording + idle, tokens),
  };
}
