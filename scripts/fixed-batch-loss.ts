/**
 * The TypeScript side of the TRL cross-check (trainer/tests/test_trl_trainer.py): reads a fixed_batch.json that
 * the Python test wrote (token ids of prompt, chosen and rejected for a few pairs, the trained and the reference
 * model folders, the loss settings), scores both responses under both models with the embedded engine, computes
 * the stage-3 loss with src/train/preference-loss.ts, and prints it as JSON. The Python test requires it to equal
 * the loss TRL's trainer computes on the same batch within the file's tolerance.
 *
 *   node --import tsx scripts/fixed-batch-loss.ts path/to/fixed_batch.json
 */
import { readFileSync } from "node:fs";
import { openEngine } from "../src/engines/factory.js";
import { batchLoss, type PairLogps, type PreferenceObjective } from "../src/train/preference-loss.js";

interface FixedPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
}

interface FixedBatch {
  model: string;
  referenceModel: string;
  settings: { objective: PreferenceObjective; beta: number; lambda: number; eta: number };
  pairs: FixedPair[];
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: fixed-batch-loss.ts FIXED_BATCH.json\n");
  process.exit(2);
}
const batch = JSON.parse(readFileSync(file, "utf8")) as FixedBatch;

async function summedLogps(model: string): Promise<Array<[number, number]>> {
  const engine = await openEngine({ kind: "embedded", model }, { workers: 0 });
  try {
    const sums: Array<[number, number]> = [];
    for (const p of batch.pairs) {
      const res = await engine.score({ prefix: p.promptIds, continuations: [p.chosenIds, p.rejectedIds], distributions: "none" });
      const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);
      sums.push([sum(res.continuations[0].logprobs), sum(res.continuations[1].logprobs)]);
    }
    return sums;
  } finally {
    await engine.close();
  }
}

const policy = await summedLogps(batch.model);
const reference = await summedLogps(batch.referenceModel);
const pairs: PairLogps[] = batch.pairs.map((p, i) => ({
  policyChosen: policy[i][0],
  policyRejected: policy[i][1],
  refChosen: reference[i][0],
  refRejected: reference[i][1],
  chosenTokens: p.chosenIds.length,
  rejectedTokens: p.rejectedIds.length,
}));
const loss = batchLoss(pairs, batch.settings);
process.stdout.write(JSON.stringify({ loss: loss.loss, dpo: loss.dpo, sft: loss.sft, margin: loss.margin, rewardAccuracy: loss.rewardAccuracy, pairs }) + "\n");
