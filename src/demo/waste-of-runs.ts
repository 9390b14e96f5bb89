/**
 * The world's waste profile (src/world/waste.ts) of stored evaluation runs, for the demo's verdict and the
 * ablation's table. Token counts come from an engine's tokenizer (every distinct step text counted once, over all
 * the runs together).
 */
import type { Engine } from "../engines/engine.js";
import { evalSamplesTable } from "../eval/evaluate.js";
import { RunStore } from "../store/index.js";
import { stepTokenCounter } from "../world/analysis.js";
import { worldDatasets } from "../world/dataset.js";
import { wasteProfile, type WasteProfile, type WasteSample } from "../world/waste.js";

/** Whether `benchmark` (a resolved name, as runs store it) is one of the world's: only their answers are the world's steps. */
export function isWorldBenchmark(benchmark: string): boolean {
  return Object.hasOwn(worldDatasets, benchmark);
}

/** Below this share of recognised thinking tokens the answers are not the world's steps, and the figures say nothing. */
const RECOGNISED_AT_LEAST = 80;

function readSamples(dir: string, benchmark: string): WasteSample[] {
  const store = RunStore.open(dir, { readonly: true });
  try {
    return store.table(evalSamplesTable).all({ benchmark }).map((r) => ({ level: r.level ?? 0, text: r.text, tokens: r.tokens, correct: r.correct }));
  } finally {
    store.close();
  }
}

/**
 * One profile per run, in order; undefined when the benchmark is not the world's, when any run's answers are mostly
 * not the world's steps (another model's prose would make the figures meaningless), or when the engine cannot
 * tokenize (Ollama): the analysis is an extra, and a finished demo or ablation must not fail for want of it.
 */
export async function wasteOfRuns(runs: readonly string[], benchmark: string, engine: Engine, log?: (message: string) => void): Promise<WasteProfile[] | undefined> {
  if (!isWorldBenchmark(benchmark)) return undefined;
  const samples = runs.map((dir) => readSamples(dir, benchmark));
  let count: (text: string) => number;
  try {
    count = await stepTokenCounter(samples.flat(), async (t) => (await engine.tokenize(t, { addSpecialTokens: false })).length);
  } catch (err) {
    log?.(`no world analysis of where the tokens went: ${(err as Error).message}`);
    return undefined;
  }
  const profiles = samples.map((s) => wasteProfile(s, count));
  return profiles.every((p) => p.recognised >= RECOGNISED_AT_LEAST) ? profiles : undefined;
}
