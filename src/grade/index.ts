/**
 * The math answer grader: final-answer extraction from model responses and answer equivalence.
 *
 *   extractAnswer(response, { format })     → the final answer string, or null (none / truncated)
 *   isEquivalent(gold, predicted, options)  → boolean, always within options.timeoutMs (default 1 s)
 *   grade(gold, response, options)          → { extracted, equal, reason }
 *   gradeBatch(items, options)              → results in input order (worker pool for large batches)
 */
export { extractAnswer, extractChoice, looksLikeMath, type AnswerFormat, type ChoiceMatch, type ExtractOptions } from "./extract.js";
export { isEquivalent, judge, DEFAULT_TIMEOUT_MS, type EquivalenceOptions, type Verdict } from "./compare.js";
export { grade, gradeMany, goldAnswer, type GradeItem, type GradeOptions, type GradeResult } from "./grade.js";
export { GraderPool, gradeBatch, defaultWorkers, type PoolOptions } from "./pool.js";
