/**
 * What the samples of a run on the built-in world do, read back with the world's own analysis:
 * - for an evaluation run, level by level: the share of samples that reflect (re-check, correct or verify), the share
 *   that decompose an operation column by column, and the wording of the correct ones;
 * - for a squeeze run: the wording of the chosen answers before and after stage 2, and of the rejected answers.
 * Wording is `verbosity`: the characters of the thinking's steps over the characters the same steps take in their
 * shortest phrasing (1.0 = every step already terse; unrecognised steps count as they are), with the steps per answer
 * that are reflections and column-by-column operations, and how consistently an answer keeps one wording from step to
 * step. docs/BENCHMARKS.md ("The demo") compares runs with it.
 *
 * For an evaluation run it also says where the correct answers spend their tokens (`waste`, src/world/waste.ts):
 * wording, idle checks and useful checks in tokens per answer, and the free waste (wording + idle checks) as a
 * share of Len-T: how much shorter a perfect squeeze could make them at no accuracy cost.
 *
 *   tsx scripts/world-depth-of-run.ts [--model models/world-base] runs/demo/base-eval runs/demo/squeezed-eval runs/demo/squeeze
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { parseArgs } from "node:util";
import { loadModelFolder } from "../src/model/folder.js";
import { analyzeResponse, isReflection, type ResponseAnalysis } from "../src/world/analysis.js";
import { wasteProfile } from "../src/world/waste.js";

interface Row { level: number; text: string; tokens: number; correct: number }
const pct = (n: number, d: number): number => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The wording of a set of answers: verbosity, reflection / column-working steps per answer, and how consistently an
 * answer keeps one wording (`adjacentAgreement`: the share of consecutive recognised steps that agree on whether they
 * use their tersest phrasing; a world whose wording is a per-trace style scores higher than one that picks per step).
 */
function wording(analyses: readonly ResponseAnalysis[]): { answers: number; verbosity: number; reflectionSteps: number; columnSteps: number; adjacentAgreement: number } {
  let chars = 0;
  let shortest = 0;
  let reflections = 0;
  let columns = 0;
  let pairs = 0;
  let agree = 0;
  for (const a of analyses) {
    let previous: boolean | undefined;
    for (const s of a.steps) {
      chars += s.text.length;
      shortest += (s.shortest ?? s.text).length;
      if (isReflection(s.kind)) reflections++;
      if (s.kind === "decomposed") columns++;
      if (s.phrasing < 0) continue;
      const tersest = s.phrasing === 0;
      if (previous !== undefined) {
        pairs++;
        if (tersest === previous) agree++;
      }
      previous = tersest;
    }
  }
  const n = Math.max(1, analyses.length);
  return {
    answers: analyses.length,
    verbosity: round(shortest === 0 ? 1 : chars / shortest),
    reflectionSteps: round(reflections / n, 2),
    columnSteps: round(columns / n, 2),
    adjacentAgreement: round(pairs === 0 ? 0 : agree / pairs),
  };
}

function evalRun(db: Database.Database, countTokens: (text: string) => number): Record<string, unknown> {
  const rows = db.prepare("SELECT level, text, tokens, correct FROM eval_samples WHERE level IS NOT NULL").all() as Row[];
  const byLevel: Record<string, unknown> = {};
  for (const level of [...new Set(rows.map((r) => r.level))].sort((a, b) => a - b)) {
    const analyses = rows.filter((r) => r.level === level).map((r) => analyzeResponse(r.text));
    byLevel[level] = {
      samples: analyses.length,
      reflecting: pct(analyses.filter((a) => a.hasReflection).length, analyses.length),
      decomposing: pct(analyses.filter((a) => a.hasDecomposed).length, analyses.length),
    };
  }
  const correct = rows.filter((r) => r.correct === 1);
  return { byLevel, correctWording: wording(correct.map((r) => analyzeResponse(r.text))), waste: wasteProfile(correct, countTokens) };
}

function squeezeRun(db: Database.Database): Record<string, unknown> {
  const texts = (sql: string): ResponseAnalysis[] => (db.prepare(sql).all() as Array<{ text: string }>).map((r) => analyzeResponse(r.text));
  return {
    chosenBeforeRefinement: wording(texts("SELECT s.text FROM refined_responses r JOIN samples s USING (problemId, sampleIndex)")),
    chosenAfterRefinement: wording(texts("SELECT text FROM refined_responses")),
    rejected: wording(texts("SELECT DISTINCT s.text FROM pairs p JOIN samples s ON s.problemId = p.problemId AND s.sampleIndex = p.rejectedIndex")),
  };
}

const { values, positionals: runs } = parseArgs({ options: { model: { type: "string", default: "models/world-base" } }, allowPositionals: true });
if (runs.length === 0) throw new Error("usage: world-depth-of-run.ts [--model DIR] <evaluation or squeeze run dir> [more run dirs]");
const tokenizer = loadModelFolder(values.model!).tokenizer;
const countTokens = (text: string): number => tokenizer.encode(text).length;
const out: Record<string, Record<string, unknown>> = {};
for (const run of runs) {
  const db = new Database(join(run, "run.sqlite"), { readonly: true });
  const has = (table: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  try {
    if (has("eval_samples")) out[run] = evalRun(db, countTokens);
    else if (has("refined_responses")) out[run] = squeezeRun(db);
    else throw new Error(`${run}: neither an evaluation run nor a squeeze run that reached stage 2`);
  } finally {
    db.close();
  }
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
