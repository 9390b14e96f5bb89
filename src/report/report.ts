/**
 * `writeReport`: evaluation runs, squeeze runs and demo directories in, one self-contained HTML page out. Reads
 * runs, never writes them. The headline table is `compare`'s (the same cells, the same coverage checks).
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { buildComparison, comparisonText, type Comparison } from "../eval/compare.js";
import { evalRunSummary } from "../eval/results.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { packageVersion } from "../util/version.js";
import { collectEvalRun, collectSqueezeRun, readDemoSummary, type EvalRunData, type SqueezeRunData } from "./collect.js";
import { evaluationPlots } from "./eval-plots.js";
import { examplesHtml, renderPage, type PageSection, type RefinementExample } from "./html.js";
import { resolveInputs } from "./inputs.js";
import { plotId } from "./plot.js";
import { refinementPlots, selectionPlots, trainingPlots } from "./squeeze-plots.js";
import { wordDiff } from "./word-diff.js";

export interface WriteReportOptions {
  /** Evaluation runs, squeeze runs and demo directories, in any mix; the first evaluation is the table's baseline. */
  inputs: readonly string[];
  /** The HTML file to write (its folder is created). */
  out: string;
  /** Show Δ% even between evaluations of different problems or sample counts. */
  allowMismatch?: boolean;
  /** Refinement examples shown side by side per squeeze run (default 3). */
  examples?: number;
  title?: string;
  cwd?: string;
}

export interface WriteReportResult {
  /** The written file (absolute). */
  path: string;
  bytes: number;
  /** Plots on the page. */
  plots: number;
  /** The headline table as `compare` prints it (with its coverage notes); null without evaluations. */
  table: string | null;
  comparison: Comparison | null;
  /** What the page says is not in the given runs, one line each. */
  missing: string[];
}

const DEFAULT_EXAMPLES = 3;

function refinementExamples(run: SqueezeRunData, count: number): RefinementExample[] {
  const ref = run.refinement;
  if (ref === null || count <= 0) return [];
  const chosen = ref.responses
    .filter((r) => r.stepsChanged > 0)
    .sort((a, b) => b.originalTokens - b.tokens - (a.originalTokens - a.tokens) || (a.problemId < b.problemId ? -1 : a.problemId > b.problemId ? 1 : a.sampleIndex - b.sampleIndex))
    .slice(0, count);
  return chosen.map((r) => ({
    problemId: r.problemId,
    sampleIndex: r.sampleIndex,
    tokensBefore: r.originalTokens,
    tokensAfter: r.tokens,
    steps: ref.steps
      .filter((s) => s.problemId === r.problemId && s.sampleIndex === r.sampleIndex && s.accepted !== undefined)
      .sort((a, b) => a.stepIndex - b.stepIndex)
      .map((s) => ({
        stepIndex: s.stepIndex,
        steps: r.steps,
        originalTokens: s.originalTokens,
        refinedTokens: s.acceptedTokens ?? s.originalTokens,
        divergence: s.acceptedDivergence ?? null,
        diff: wordDiff(s.original, s.accepted ?? s.original),
      })),
  }));
}

function squeezeSections(run: SqueezeRunData, examples: number, missing: string[]): PageSection[] {
  const label = run.info.label;
  const notIn = (what: string, why: string): string => {
    missing.push(`${label}: ${what}: ${why}`);
    return `not in this run: ${why}`;
  };
  const stage1 = selectionPlots(run);
  const stage2 = refinementPlots(run);
  const stage3 = trainingPlots(run);
  const stage2Notes: string[] = [];
  if (run.refinement === null) stage2Notes.push(notIn("stage 2", "refinement has not run (`tokensqueeze refine --run …` or `squeeze`)"));
  else if (!run.refinement.enabled) stage2Notes.push(notIn("stage 2", "refinement was off (refinement.enabled=false): the chosen responses were used as sampled"));
  else if (run.refinement.steps.length === 0) stage2Notes.push(notIn("stage 2", "refinement ran but had no steps to rewrite (no pairs)"));
  return [
    {
      id: plotId("stage1", label),
      title: `Stage 1 — sampling and selection (${label})`,
      notes: run.selections === null ? [notIn("stage 1", "selection has not run (`tokensqueeze select --run …` or `squeeze`)")] : [],
      plots: stage1,
    },
    {
      id: plotId("stage2", label),
      title: `Stage 2 — step refinement (${label})`,
      notes: stage2Notes,
      plots: stage2,
      html: examplesHtml(refinementExamples(run, examples)),
    },
    {
      id: plotId("stage3", label),
      title: `Stage 3 — preference training (${label})`,
      notes: run.training === null ? [notIn("stage 3", "no training steps are stored (`tokensqueeze train --run …`; the TRL backend keeps its metrics outside the run)")] : run.training.model ? [`trained model: ${run.training.model}`] : [],
      plots: stage3,
    },
  ];
}

export async function writeReport(opts: WriteReportOptions): Promise<WriteReportResult> {
  const cwd = opts.cwd ?? process.cwd();
  const { runs, demos, missingDemoParts } = resolveInputs(opts.inputs, cwd);
  const missing: string[] = missingDemoParts.map((p) => `demo: ${p}: not run yet`);
  const evals: EvalRunData[] = [];
  const emptyEvals: string[] = [];
  for (const r of runs.filter((r) => r.kind === "eval")) {
    const data = collectEvalRun(r);
    if (data) evals.push(data);
    else emptyEvals.push(r.dir);
  }
  for (const dir of emptyEvals) missing.push(`evaluation ${dir}: no samples yet`);
  const squeezes: SqueezeRunData[] = runs.filter((r) => r.kind === "squeeze").map(collectSqueezeRun);

  const comparison = evals.length > 0 ? buildComparison(evals.map((e) => evalRunSummary(e.results, e.info.label)), { allowMismatch: opts.allowMismatch }) : null;
  const sections: PageSection[] = [];
  if (missingDemoParts.length > 0 || emptyEvals.length > 0) {
    const notes = [
      ...missingDemoParts.map((p) => `not in this run: ${p} has not run yet (the demo stopped before it)`),
      ...emptyEvals.map((p) => `not in this run: the evaluation ${p} has no samples yet`),
    ];
    sections.push({ id: "status", title: "Not in these runs", notes, plots: [] });
  }
  if (evals.length > 0) {
    sections.push({ id: "evaluation", title: "Evaluation", notes: [], plots: evaluationPlots(evals) });
  } else {
    missing.push("evaluation: no evaluation run among the inputs");
    sections.push({ id: "evaluation", title: "Evaluation", notes: ["not in this run: no evaluation run among the inputs (accuracy, budget curves and lengths need one)"], plots: [] });
  }
  if (squeezes.length > 0) {
    for (const s of squeezes) sections.push(...squeezeSections(s, opts.examples ?? DEFAULT_EXAMPLES, missing));
  } else {
    missing.push("squeeze stages: no squeeze run among the inputs");
    sections.push({ id: "squeeze", title: "Squeeze stages", notes: ["not in this run: no squeeze run among the inputs (stages 1–3 need one)"], plots: [] });
  }

  // Plot ids come from run labels, which are unique, but two labels may still slug alike ("a b", "a-b").
  const seen = new Set<string>();
  for (const p of sections.flatMap((s) => s.plots)) {
    let id = p.id;
    for (let n = 2; seen.has(id); n++) id = `${p.id}-${n}`;
    seen.add(id);
    p.id = id;
  }

  const html = renderPage({
    title: opts.title ?? "tokensqueeze report",
    generatedAt: new Date().toISOString(),
    version: packageVersion(),
    inputs: [...opts.inputs],
    comparison,
    sections,
    runs: [...evals.map((e) => e.info), ...squeezes.map((s) => s.info)],
    demos: demos.map((dir) => ({ dir, summary: readDemoSummary(dir) })),
  });
  const path = resolve(cwd, opts.out);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, html);
  return {
    path,
    bytes: statSync(path).size,
    plots: sections.reduce((n, s) => n + s.plots.length, 0),
    table: comparison ? comparisonText(comparison) : null,
    comparison,
    missing,
  };
}
