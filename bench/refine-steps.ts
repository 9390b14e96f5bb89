/**
 * Shared by bench/refine-shortcuts.ts and bench/refine-estimators.ts: the reasoning steps of the chosen responses
 * of a squeeze run (METHOD.md stage 2's input), from an existing run (`--run DIR`, needs `select` complete) or from
 * a fresh temporary run made here with the demo preset (`sample` + `select` on the first `problems` world-train
 * problems, the run's default seed).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunConfig } from "../src/config/schema.js";
import type { Engine } from "../src/engines/engine.js";
import { runSqueeze } from "../src/squeeze/pipeline.js";
import { chosenResponses } from "../src/squeeze/stages.js";
import { splitSteps, type SplitResponse } from "../src/squeeze/steps.js";
import { problemsTable, samplesTable } from "../src/squeeze/tables.js";
import { RunStore } from "../src/store/index.js";
import { deriveSeed } from "../src/util/rng.js";

export interface BenchStep {
  /** `problemId/sampleIndex#stepIndex`. */
  key: string;
  problemId: string;
  sampleIndex: number;
  stepIndex: number;
  prompt: string;
  split: SplitResponse;
  /** The seed the refine stage would give this step's generate request (deriveSeed(run seed, "refine", item, "step", i)). */
  seed: number;
}

export interface StepSource {
  steps: BenchStep[];
  responses: number;
  /** Where the steps came from: the run directory (kept) or "temporary run of N problems" (deleted). */
  source: string;
  /** Seconds spent sampling + selecting (0 for an existing run). */
  sampleSeconds: number;
}

/** The demo configuration with the world-train limit set to `problems`. */
export function withProblemLimit(config: RunConfig, problems: number): RunConfig {
  return { ...config, datasets: config.datasets.map((d) => ({ ...d, limit: problems })) };
}

/** Every step of every chosen response (a response in at least one pair), in pair order. */
export async function loadSteps(opts: { run?: string; problems: number; config: RunConfig; engine: Engine; log: (line: string) => void }): Promise<StepSource> {
  let dir = opts.run;
  let temp: string | undefined;
  let sampleSeconds = 0;
  if (dir === undefined) {
    temp = mkdtempSync(join(tmpdir(), "bench-refine-"));
    dir = join(temp, "run");
    const t = performance.now();
    opts.log(`sampling ${opts.problems} world-train problems (demo preset) into ${dir} …`);
    await runSqueeze({ config: withProblemLimit(opts.config, opts.problems), dir, steps: ["sample", "select"], create: true, engine: opts.engine });
    sampleSeconds = (performance.now() - t) / 1000;
  }
  const store = RunStore.open(dir, { readonly: true });
  try {
    const runSeed = typeof (store.config as { seed?: unknown }).seed === "number" ? ((store.config as { seed: number }).seed) : opts.config.seed;
    const problems = store.table(problemsTable);
    const samples = store.table(samplesTable);
    const items = chosenResponses(store);
    const steps: BenchStep[] = [];
    for (const item of items) {
      const problem = problems.get({ problemId: item.problemId });
      const sample = samples.get({ problemId: item.problemId, sampleIndex: item.sampleIndex });
      if (problem === undefined || sample === undefined) throw new Error(`chosen response ${item.problemId}#${item.sampleIndex} is not in the run's samples`);
      const split = splitSteps(sample.text);
      const itemKey = `${item.problemId}/${item.sampleIndex}`;
      split.steps.forEach((_, i) =>
        steps.push({ key: `${itemKey}#${i}`, ...item, stepIndex: i, prompt: problem.prompt, split, seed: deriveSeed(runSeed, "refine", itemKey, "step", i) }),
      );
    }
    return { steps, responses: items.length, source: temp === undefined ? dir : `temporary run of ${opts.problems} problems`, sampleSeconds };
  } finally {
    store.close();
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Rounds to `digits` significant digits (for printing). */
export function sig(x: number, digits = 4): number {
  return Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x;
}
