/**
 * Pair exports, derived from the run store (never the other way round), in natural-key order so the same run
 * always gives the same bytes:
 *
 * - `trl`: JSONL rows `{prompt, chosen, rejected, chosen_tokens, rejected_tokens, problem_id}` — TRL's
 *   DPOTrainer reads `prompt`/`chosen`/`rejected` (standard, not conversational: the prompt is the text the model
 *   was sampled with, already templated); the token counts are ℓ(yw) and ℓ(yl) for the DPO-L length margin.
 * - `llama-factory`: JSONL rows `{instruction, input, chosen, rejected}` (its Alpaca-style ranking format) and a
 *   `dataset_info.json` beside the file with the entry that registers it (`"ranking": true` and the column map).
 *   The instruction is the already-templated prompt, so use LLaMA-Factory's `empty` template with it.
 *
 * Responses are exported as the model wrote them, including the stop string that ended generation (e.g. the
 * paper prompt's `</answer>`), so the trained model learns to stop where it did; `chosen` is the refined chosen
 * response (stage 2), `rejected` the sampled one. Token counts are those of the responses as generated (the stop
 * string not counted, as vLLM counts completion tokens), the chosen one adjusted by the refined steps' changes.
 */
import { basename, dirname, join } from "node:path";
import { writeSync } from "node:fs";
import { writeAtomically, writeFileAtomic } from "../util/atomic-file.js";
import type { RunStore } from "../store/index.js";
import { UserError } from "../util/errors.js";
import { REFINE_STAGE } from "./stages.js";
import { pairsTable, problemsTable, refinedResponsesTable, samplesTable, type SampleRow } from "./tables.js";

export const PairFormats = ["trl", "llama-factory"] as const;
export type PairFormat = (typeof PairFormats)[number];

export interface TrlPairRow {
  prompt: string;
  chosen: string;
  rejected: string;
  chosen_tokens: number;
  rejected_tokens: number;
  problem_id: string;
}

export interface PairExport {
  format: PairFormat;
  file: string;
  rows: number;
  /** LLaMA-Factory's dataset registration, written beside the file. */
  datasetInfoFile?: string;
}

function withStop(text: string, stopReason: SampleRow["stopReason"]): string {
  return typeof stopReason === "string" ? text + stopReason : text;
}

/** A pair with its key and texts, as exports and training read it. */
export interface PairText {
  problemId: string;
  chosenIndex: number;
  rejectedIndex: number;
  prompt: string;
  chosen: string;
  rejected: string;
  chosenTokens: number;
  rejectedTokens: number;
}

/** The pairs of a run in TRL's export shape, in key order. */
export function* trlPairs(store: RunStore): Generator<TrlPairRow> {
  for (const p of pairTexts(store)) {
    yield { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, chosen_tokens: p.chosenTokens, rejected_tokens: p.rejectedTokens, problem_id: p.problemId };
  }
}

/** The pairs of a run with their texts, in key order. Throws unless refinement has completed. */
export function* pairTexts(store: RunStore): Generator<PairText> {
  const refine = store.stage(REFINE_STAGE);
  if (refine === undefined || (refine.status !== "complete" && refine.status !== "complete-with-errors")) {
    throw new UserError(`pairs: stage "refine" ${refine === undefined ? "has not run" : `is ${refine.status}`} in run ${store.dir}; run \`tokensqueeze refine --run ${store.dir}\` (or \`squeeze\`) first`);
  }
  const problems = store.table(problemsTable);
  const samples = store.table(samplesTable);
  const refined = store.table(refinedResponsesTable);
  for (const p of store.table(pairsTable).iterate()) {
    const problem = problems.get({ problemId: p.problemId });
    const chosenSample = samples.get({ problemId: p.problemId, sampleIndex: p.chosenIndex });
    const rejected = samples.get({ problemId: p.problemId, sampleIndex: p.rejectedIndex });
    const chosen = refined.get({ problemId: p.problemId, sampleIndex: p.chosenIndex });
    // A chosen response whose refinement failed (recorded error) has no refined text: its pairs are left out.
    if (problem === undefined || chosenSample === undefined || rejected === undefined || chosen === undefined) continue;
    yield {
      problemId: p.problemId,
      chosenIndex: p.chosenIndex,
      rejectedIndex: p.rejectedIndex,
      prompt: problem.prompt,
      chosen: withStop(chosen.text, chosenSample.stopReason),
      rejected: withStop(rejected.text, rejected.stopReason),
      chosenTokens: chosen.tokens,
      rejectedTokens: rejected.tokens,
    };
  }
}

/** Writes the run's pairs in a format (atomically: a failed export never leaves half a file). */
export function exportPairs(store: RunStore, format: PairFormat, file: string): PairExport {
  let rows = 0;
  const rowsIter = trlPairs(store);
  writeAtomically(file, (fd) => {
    let buffer = "";
    for (const r of rowsIter) {
      const line = format === "trl" ? r : { instruction: r.prompt, input: "", chosen: r.chosen, rejected: r.rejected };
      buffer += JSON.stringify(line) + "\n";
      rows++;
      if (buffer.length > 1 << 20) {
        writeSync(fd, buffer);
        buffer = "";
      }
    }
    writeSync(fd, buffer);
  });
  if (format === "trl") return { format, file, rows };
  const name = basename(file).replace(/\.jsonl?$/, "");
  const datasetInfoFile = join(dirname(file), "dataset_info.json");
  const entry = { [name]: { file_name: basename(file), formatting: "alpaca", ranking: true, columns: { prompt: "instruction", query: "input", chosen: "chosen", rejected: "rejected" } } };
  writeFileAtomic(datasetInfoFile, JSON.stringify(entry, null, 2) + "\n");
  return { format, file, rows, datasetInfoFile };
}
