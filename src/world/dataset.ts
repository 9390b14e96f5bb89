/**
 * The world as named datasets, registered with the others by `registerBuiltinDatasets` (src/data/registry.ts):
 *   world-train    training problems (never held-out ones), levels interleaved 1,2,3,4,5,1,…
 *   world-test     the fixed held-out evaluation set (40 per level, interleaved; `limit` keeps levels balanced)
 * `world` and `world-heldout` are aliases of `world-test`: they resolve to it before the name is used, so a run
 * keys (and seeds) the held-out set as `world-test` whichever spelling was given.
 * Problems are generated, so these datasets read no files. This module registers nothing when imported.
 */
import type { Problem } from "../data/problem.js";
import type { DatasetContents, DatasetLoader } from "../data/types.js";
import { generateProblem, heldoutProblems, MAX_LEVEL, MIN_LEVEL, type WorldProblem } from "./expression.js";

/** Training problems generated for the `world-train` dataset (a `limit` takes a balanced prefix). */
export const WORLD_TRAIN_SIZE = 5000;
export const WORLD_TRAIN_SEED = 1;

export function toProblem(p: WorldProblem): Problem {
  return { id: p.id, question: p.question, answer: String(p.answer), meta: { level: p.level, source: `world-${p.split}` } };
}

export function worldTrainProblems(count = WORLD_TRAIN_SIZE, seed = WORLD_TRAIN_SEED): WorldProblem[] {
  const levels = MAX_LEVEL - MIN_LEVEL + 1;
  return Array.from({ length: count }, (_, i) => generateProblem("train", MIN_LEVEL + (i % levels), seed, Math.floor(i / levels)));
}

function contents(problems: Problem[]): DatasetContents {
  return { problems, paths: [], fields: ["answer", "id", "level", "question"], skipped: [], notes: [] };
}

const heldoutLoader: DatasetLoader = {
  description: "the reasoning world's held-out problems: arithmetic chains, 40 per level 1-5 (never trained on)",
  usesDataDir: false,
  load: async () => contents(heldoutProblems().map(toProblem)),
};

const trainLoader: DatasetLoader = {
  description: `the reasoning world's training problems: ${WORLD_TRAIN_SIZE} arithmetic chains, levels 1-5 interleaved`,
  usesDataDir: false,
  load: async () => contents(worldTrainProblems().map(toProblem)),
};

/** The world's datasets by name. */
export const worldDatasets: Readonly<Record<string, DatasetLoader>> = {
  "world-train": trainLoader,
  "world-test": heldoutLoader,
};

/** Other spellings of the world's datasets, and the one name each stands for. */
export const worldDatasetAliases: Readonly<Record<string, string>> = {
  world: "world-test",
  "world-heldout": "world-test",
};
