/**
 * The world's properties, measured on a model's graded samples of the held-out problems (issue 6 "Done when"):
 *   accuracyByLevel    % correct per level (falls with difficulty)
 *   medianLengthCV     median over problems of the coefficient of variation of its samples' token lengths
 *   depthGapHard/Easy  accuracy points, samples that decompose or reflect minus samples that do not, on
 *                      levels 4–5 / 1–2 (null when a group is empty)
 *   compressibleShare  fraction of thinking tokens in steps for which a strictly shorter phrasing of the same
 *                      content exists (the generator's templates, counted with the model's tokenizer)
 * and reflection (issue 11): the share of samples that re-check, correct or verify at least once, reflection
 * markers ("Wait", "Hmm", "verify", …) per 1,000 thinking words, accuracy with vs without reflection, and the
 * results reflections changed, each judged fixed (wrong → right) or broke (right → wrong).
 * Pure: samples in, numbers out; `world report` samples and grades through the evaluation module.
 */
import { analyzeResponse, stepTokenCounter, tallyWording, type ResponseAnalysis } from "./analysis.js";

export interface WorldSample {
  problemId: string;
  level: number;
  sampleIndex: number;
  text: string;
  /** Generated tokens (the engine's count). */
  tokens: number;
  correct: boolean;
  finishReason?: string;
}

export const HARD_LEVELS = [4, 5] as const;
export const EASY_LEVELS = [1, 2] as const;

export interface DepthSplit {
  withDepth: { samples: number; accuracy: number | null };
  withoutDepth: { samples: number; accuracy: number | null };
  /** Accuracy points, with minus without; null when either group is empty. */
  gap: number | null;
}

/** Accuracy of samples with and without something (depth, reflection) in a group of samples. */
export type Split = DepthSplit;

export interface ChangeTally {
  /** Samples with at least one reflection that changed a result. */
  samples: number;
  /** Changed results: right after and wrong before / right before and wrong after / wrong both times. */
  fixed: number;
  broke: number;
  neither: number;
  /** Accuracy (%) of the samples with a change; null when there are none. */
  accuracy: number | null;
}

export interface ReflectionReport {
  /** Share of samples with at least one reflection (re-check, correction or final verification), per level (%). */
  shareByLevel: Record<string, number>;
  /** Reflection markers per 1,000 words of thinking, over all samples and per level. */
  markersPer1000Words: number;
  markersPer1000WordsByLevel: Record<string, number>;
  /** Accuracy with vs without a reflection, per level and pooled over levels 1–2 and 4–5. */
  accuracyByLevel: Record<string, Split>;
  easy: Split;
  hard: Split;
  /** Results changed by reflections, per level and in all. */
  changesByLevel: Record<string, ChangeTally>;
  changes: ChangeTally;
  /** Levels 4–5 together (where the issue asks that reflections fix more often than they break). */
  changesHard: ChangeTally;
}

export interface WorldReport {
  problems: number;
  samples: number;
  accuracy: number;
  accuracyByLevel: Record<string, number>;
  meanTokensByLevel: Record<string, number>;
  medianLengthCV: number;
  depthGapHard: number | null;
  depthGapEasy: number | null;
  depthHard: DepthSplit;
  depthEasy: DepthSplit;
  /** Share of samples that decompose or reflect, per level (%). */
  depthUseByLevel: Record<string, number>;
  compressibleShare: number;
  /** Tokens compressible steps would save if written in their shortest phrasing, as a share of thinking tokens. */
  wordingSavingsShare: number;
  /** Share of thinking tokens in steps no template recognises (the model's own inventions or garble). */
  unknownStepShare: number;
  /** Steps per kind over all samples. */
  stepKinds: Record<string, number>;
  /** Share of samples cut off at the token limit (%). */
  truncatedShare: number;
  reflection: ReflectionReport;
}

function pct(x: number, n: number): number {
  return n === 0 ? 0 : round((100 * x) / n);
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Population coefficient of variation (std / mean); 0 for an empty or all-zero list. */
export function coefficientOfVariation(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (mean === 0) return 0;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return Math.sqrt(variance) / mean;
}

type Item = { s: WorldSample; a: ResponseAnalysis };

function depthSplit(items: readonly Item[], levels: readonly number[], has: (a: ResponseAnalysis) => boolean = (a) => a.usesDepth): DepthSplit {
  const inLevels = items.filter((x) => levels.includes(x.s.level));
  const w = inLevels.filter((x) => has(x.a));
  const wo = inLevels.filter((x) => !has(x.a));
  const acc = (g: typeof inLevels): number | null => (g.length === 0 ? null : (100 * g.filter((x) => x.s.correct).length) / g.length);
  const aw = acc(w);
  const awo = acc(wo);
  return {
    withDepth: { samples: w.length, accuracy: aw === null ? null : round(aw) },
    withoutDepth: { samples: wo.length, accuracy: awo === null ? null : round(awo) },
    gap: aw === null || awo === null ? null : round(aw - awo),
  };
}

function changeTally(items: readonly Item[]): ChangeTally {
  const changed = items.filter((x) => x.a.changes.length > 0);
  const count = (o: string): number => items.reduce((n, x) => n + x.a.changes.filter((c) => c.outcome === o).length, 0);
  return {
    samples: changed.length,
    fixed: count("fixed"),
    broke: count("broke"),
    neither: count("neither"),
    accuracy: changed.length === 0 ? null : pct(changed.filter((x) => x.s.correct).length, changed.length),
  };
}

function per1000(markers: number, words: number): number {
  return words === 0 ? 0 : round((1000 * markers) / words);
}

export function reflectionReport(items: readonly Item[]): ReflectionReport {
  const levels = [...new Set(items.map((x) => x.s.level))].sort((a, b) => a - b);
  const reflects = (a: ResponseAnalysis): boolean => a.hasReflection;
  const markers = (g: readonly Item[]): number => g.reduce((n, x) => n + x.a.markers, 0);
  const words = (g: readonly Item[]): number => g.reduce((n, x) => n + x.a.thinkingWords, 0);
  const shareByLevel: Record<string, number> = {};
  const markersByLevel: Record<string, number> = {};
  const accuracyByLevel: Record<string, Split> = {};
  const changesByLevel: Record<string, ChangeTally> = {};
  for (const level of levels) {
    const g = items.filter((x) => x.s.level === level);
    shareByLevel[level] = pct(g.filter((x) => reflects(x.a)).length, g.length);
    markersByLevel[level] = per1000(markers(g), words(g));
    accuracyByLevel[level] = depthSplit(g, [level], reflects);
    changesByLevel[level] = changeTally(g);
  }
  return {
    shareByLevel,
    markersPer1000Words: per1000(markers(items), words(items)),
    markersPer1000WordsByLevel: markersByLevel,
    accuracyByLevel,
    easy: depthSplit(items, EASY_LEVELS, reflects),
    hard: depthSplit(items, HARD_LEVELS, reflects),
    changesByLevel,
    changes: changeTally(items),
    changesHard: changeTally(items.filter((x) => (HARD_LEVELS as readonly number[]).includes(x.s.level))),
  };
}

export function worldReport(samples: readonly WorldSample[], countTokens: (text: string) => number): WorldReport {
  const items = samples.map((s) => ({ s, a: analyzeResponse(s.text) }));
  const byLevel = new Map<number, typeof items>();
  const byProblem = new Map<string, number[]>();
  for (const it of items) {
    byLevel.set(it.s.level, [...(byLevel.get(it.s.level) ?? []), it]);
    const lens = byProblem.get(it.s.problemId) ?? [];
    lens.push(it.s.tokens);
    byProblem.set(it.s.problemId, lens);
  }
  const accuracyByLevel: Record<string, number> = {};
  const meanTokensByLevel: Record<string, number> = {};
  const depthUseByLevel: Record<string, number> = {};
  for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
    const g = byLevel.get(level)!;
    accuracyByLevel[level] = pct(g.filter((x) => x.s.correct).length, g.length);
    meanTokensByLevel[level] = round(g.reduce((a, x) => a + x.s.tokens, 0) / g.length, 1);
    depthUseByLevel[level] = pct(g.filter((x) => x.a.usesDepth).length, g.length);
  }
  let thinking = 0;
  let compressible = 0;
  let saved = 0;
  let unknown = 0;
  const stepKinds: Record<string, number> = {};
  for (const { a } of items) {
    const t = tallyWording(a, countTokens);
    thinking += t.thinkingTokens;
    compressible += t.compressibleTokens;
    saved += t.compressibleTokens - t.shortestTokens;
    unknown += t.unknownTokens;
    for (const st of a.steps) stepKinds[st.kind] = (stepKinds[st.kind] ?? 0) + 1;
  }
  const hard = depthSplit(items, HARD_LEVELS);
  const easy = depthSplit(items, EASY_LEVELS);
  return {
    problems: byProblem.size,
    samples: samples.length,
    accuracy: pct(samples.filter((s) => s.correct).length, samples.length),
    accuracyByLevel,
    meanTokensByLevel,
    medianLengthCV: round(median([...byProblem.values()].map(coefficientOfVariation)), 4),
    depthGapHard: hard.gap,
    depthGapEasy: easy.gap,
    depthHard: hard,
    depthEasy: easy,
    depthUseByLevel,
    compressibleShare: thinking === 0 ? 0 : round(compressible / thinking, 4),
    wordingSavingsShare: thinking === 0 ? 0 : round(saved / thinking, 4),
    unknownStepShare: thinking === 0 ? 0 : round(unknown / thinking, 4),
    stepKinds,
    truncatedShare: pct(samples.filter((s) => s.finishReason === "length").length, samples.length),
    reflection: reflectionReport(items),
  };
}

/**
 * `worldReport` with an asynchronous token counter, such as an open engine's `tokenize` (so the counts come from
 * the model that was sampled, wherever its files are): every distinct step text is counted once, then the report
 * is computed as usual.
 */
export async function worldReportAsync(samples: readonly WorldSample[], countTokens: (text: string) => Promise<number>): Promise<WorldReport> {
  return worldReport(samples, await stepTokenCounter(samples, countTokens));
}
