/**
 * Stage 2's exact shortcuts (METHOD.md stage 2, point 6) against the naive search, on the built-in world:
 *
 *   node --import tsx bench/refine-shortcuts.ts [--problems 40 | --run DIR] [--max-steps N] [--candidates K]
 *        [--score-batch B] [--epsilon E] [--details]
 *
 * Steps: every step of every chosen response of a squeeze run (`--run`, needs `select` complete), or of a temporary
 * run sampled and selected here with the demo preset on the first `--problems` world-train problems. Settings:
 * the demo preset's refinement settings (K = 16, L = 128, ε = 0.005, exact estimator on the embedded engine) unless
 * a flag overrides them. Each step is refined twice by `refineStep` with the same seed (the one the refine stage
 * would use): with the shortcuts (naive: false) and without (naive: true). The two accepted candidates (text, or
 * none) must be identical. Costs are model tokens processed (generate prompt + generated + scored, from the
 * StepRefinement counters) and wall time. As in the refine stage, all steps of one response are refined at once
 * (Promise.all); the two modes take turns per response, the first mode alternating, so load drift on a shared
 * machine hits both alike. Prints one JSON object (the command line is in it).
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { resolveConfig } from "../src/config/index.js";
import { openEngine } from "../src/engines/factory.js";
import { refineStep, type RefineSettings, type StepRefinement } from "../src/squeeze/refine.js";
import { refineSettingsOf } from "../src/squeeze/stages.js";
import { loadSteps, sig, type BenchStep } from "./refine-steps.js";

type Mode = "shortcuts" | "naive";

interface ModeTotals {
  steps: number;
  generationPromptTokens: number;
  generatedTokens: number;
  scoredTokens: number;
  modelTokens: number;
  scoreCandidates: number;
  accepted: number;
  seconds: number;
}

const emptyTotals = (): ModeTotals => ({ steps: 0, generationPromptTokens: 0, generatedTokens: 0, scoredTokens: 0, modelTokens: 0, scoreCandidates: 0, accepted: 0, seconds: 0 });

function add(t: ModeTotals, r: StepRefinement): void {
  t.steps++;
  t.generationPromptTokens += r.generationPromptTokens;
  t.generatedTokens += r.generatedTokens;
  t.scoredTokens += r.scoredTokens;
  t.modelTokens += r.generationPromptTokens + r.generatedTokens + r.scoredTokens;
  t.scoreCandidates += r.scored;
  if (r.accepted) t.accepted++;
}

const ratio = (a: number, b: number): number => sig(a / b, 4);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: "string" },
      problems: { type: "string", default: "40" },
      "max-steps": { type: "string" },
      candidates: { type: "string" },
      "score-batch": { type: "string" },
      epsilon: { type: "string" },
      details: { type: "boolean", default: false },
    },
  });
  const command = ["node", "--import", "tsx", "bench/refine-shortcuts.ts", ...process.argv.slice(2)].join(" ");
  const overrides: Record<string, unknown> = {};
  if (values.candidates !== undefined) overrides["refinement.candidates"] = Number(values.candidates);
  if (values["score-batch"] !== undefined) overrides["refinement.scoreBatch"] = Number(values["score-batch"]);
  if (values.epsilon !== undefined) overrides["refinement.epsilon"] = Number(values.epsilon);
  const config = resolveConfig({ preset: "demo", overrides });
  const log = (line: string): boolean => process.stderr.write(line + "\n");
  const loadBefore = loadavg()[0];
  const engine = await openEngine({ kind: "embedded", model: config.engine.model });
  try {
    const source = await loadSteps({ run: values.run, problems: Number(values.problems), config, engine, log });
    const maxSteps = values["max-steps"] !== undefined ? Number(values["max-steps"]) : Infinity;
    const steps = source.steps.slice(0, maxSteps);
    const base = await refineSettingsOf(config, engine);
    const settings: Record<Mode, RefineSettings> = { shortcuts: { ...base, naive: false }, naive: { ...base, naive: true } };
    log(`${steps.length} steps of ${source.responses} chosen responses (${source.source}); K=${base.candidates}, L=${base.window}, ε=${base.epsilon}, ${base.estimator}, scoreBatch ${base.scoreBatch}`);

    // Group steps by response: the refine stage runs one response's steps at once.
    const groups: BenchStep[][] = [];
    for (const s of steps) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[0].problemId === s.problemId && last[0].sampleIndex === s.sampleIndex) last.push(s);
      else groups.push([s]);
    }
    const totals: Record<Mode, ModeTotals> = { shortcuts: emptyTotals(), naive: emptyTotals() };
    const results: Record<Mode, Map<string, StepRefinement>> = { shortcuts: new Map(), naive: new Map() };
    const runGroup = async (mode: Mode, group: BenchStep[]): Promise<void> => {
      const t = performance.now();
      const out = await Promise.all(group.map((s) => refineStep(engine, { prompt: s.prompt, split: s.split, stepIndex: s.stepIndex, seed: s.seed }, settings[mode])));
      totals[mode].seconds += (performance.now() - t) / 1000;
      out.forEach((r, k) => {
        add(totals[mode], r);
        results[mode].set(group[k].key, r);
      });
    };
    // A warm-up on the first response (not counted): the first calls of a fresh engine pay for wasm compilation.
    if (groups.length > 0) await Promise.all(groups[0].map((s) => refineStep(engine, { prompt: s.prompt, split: s.split, stepIndex: s.stepIndex, seed: s.seed }, settings.shortcuts)));
    let done = 0;
    for (const [g, group] of groups.entries()) {
      const order: Mode[] = g % 2 === 0 ? ["shortcuts", "naive"] : ["naive", "shortcuts"];
      for (const mode of order) await runGroup(mode, group);
      done += group.length;
      if (g % 10 === 9 || g === groups.length - 1) log(`${done}/${steps.length} steps`);
    }

    const mismatches: unknown[] = [];
    let identical = 0;
    let sameCandidates = 0;
    let maxAcceptedDivergenceDelta = 0;
    const details: unknown[] = [];
    for (const s of steps) {
      const a = results.shortcuts.get(s.key) as StepRefinement;
      const b = results.naive.get(s.key) as StepRefinement;
      // Same generate request and seed: the same candidates, so the same eligible count and generated tokens.
      if (a.eligible === b.eligible && a.generatedTokens === b.generatedTokens) sameCandidates++;
      const same = a.accepted?.text === b.accepted?.text;
      if (same) identical++;
      if (a.accepted && b.accepted && same) maxAcceptedDivergenceDelta = Math.max(maxAcceptedDivergenceDelta, Math.abs(a.accepted.divergence - b.accepted.divergence));
      const view = (r: StepRefinement) => ({
        accepted: r.accepted ?? null,
        bestDivergence: r.bestDivergence ?? null,
        eligible: r.eligible,
        distinct: r.distinct,
        scored: r.scored,
        tokens: { generationPrompt: r.generationPromptTokens, generated: r.generatedTokens, scored: r.scoredTokens },
      });
      if (!same) mismatches.push({ step: s.key, original: a.original, originalTokens: a.originalTokens, window: a.window, shortcuts: view(a), naive: view(b) });
      if (values.details) details.push({ step: s.key, originalTokens: a.originalTokens, window: a.window, accepted: a.accepted?.text ?? null, shortcuts: view(a), naive: view(b) });
    }
    const mode = (t: ModeTotals) => ({
      ...t,
      seconds: sig(t.seconds, 4),
      modelTokensPerStep: sig(t.modelTokens / t.steps, 4),
      scoredTokensPerStep: sig(t.scoredTokens / t.steps, 4),
      scoreCandidatesPerStep: sig(t.scoreCandidates / t.steps, 4),
    });
    const s = totals.shortcuts;
    const n = totals.naive;
    const report = {
      command,
      machine: `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores`,
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg()[0],
      source: source.source,
      sampleSeconds: sig(source.sampleSeconds, 4),
      responses: groups.length,
      settings: { candidates: base.candidates, window: base.window, epsilon: base.epsilon, estimator: base.estimator, reduction: base.reduction, lengthCapFactor: base.lengthCapFactor, scoreBatch: base.scoreBatch },
      steps: steps.length,
      identical,
      allIdentical: identical === steps.length,
      sameCandidates,
      maxAcceptedDivergenceDelta,
      mismatches,
      shortcuts: mode(s),
      naive: mode(n),
      ratioNaiveOverShortcuts: {
        modelTokens: ratio(n.modelTokens, s.modelTokens),
        scoredTokens: ratio(n.scoredTokens, s.scoredTokens),
        scoreCandidates: ratio(n.scoreCandidates, s.scoreCandidates),
        wallSeconds: ratio(n.seconds, s.seconds),
      },
      /** Share of each mode's model tokens spent in generation (identical in both modes: same request, same seed). */
      generationShare: {
        shortcuts: sig((s.generationPromptTokens + s.generatedTokens) / s.modelTokens, 3),
        naive: sig((n.generationPromptTokens + n.generatedTokens) / n.modelTokens, 3),
      },
      goal: { sameAcceptedEveryStep: identical === steps.length, atLeast4xFewerModelTokens: n.modelTokens / s.modelTokens >= 4 },
      ...(values.details ? { details } : {}),
    };
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  } finally {
    await engine.close();
  }
}

await main();
