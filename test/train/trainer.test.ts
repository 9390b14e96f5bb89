import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initTf } from "../../src/model/tf.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
import { computeLocalGradients } from "../../src/train/gradients.js";
import { llamaParameters } from "../../src/train/llama.js";
import { ParallelGradientSource, siblingModule } from "../../src/train/parallel.js";
import { sftObjective } from "../../src/train/sft.js";
import type { TokenSequence } from "../../src/train/token-loss.js";
import { defaultTrainerConfig, train, type TrainerConfig } from "../../src/train/trainer.js";
import { DataOrder } from "../../src/train/data-order.js";
import { keyValueStrings, tinyConfig } from "./tasks.js";

/** Teacher-forced greedy accuracy on the masked (response) tokens, through the tfjs forward (an independent check). */
function maskedTokenAccuracy(model: LlamaModel, seqs: TokenSequence[]): number {
  const predicted = tf.tidy(() => tf.argMax(model.forwardLogits(padBatch(seqs.map((s) => s.ids))), -1).arraySync() as number[][]);
  let hit = 0;
  let total = 0;
  seqs.forEach((s, b) => {
    for (let t = 0; t + 1 < s.ids.length; t++) {
      if (s.lossMask !== undefined && !s.lossMask[t + 1]) continue;
      total++;
      if (predicted[b][t] === s.ids[t + 1]) hit++;
    }
  });
  return hit / total;
}

function maxAbsDiff(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let m = 0;
  for (const [k, t] of a) {
    const x = t.dataSync();
    const y = b.get(k)!.dataSync();
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

function weightsOf(model: LlamaModel): Map<string, tf.Tensor> {
  return new Map(llamaParameters(model).map((p) => [p.name, p.variable as tf.Tensor]));
}

describe("supervised trainer", () => {
  beforeAll(async () => {
    await initTf("wasm");
  });

  it("memorises 64 short strings to > 95% token accuracy on the masked response tokens", async () => {
    const data = keyValueStrings(64, 8, 11);
    const model = LlamaModel.random(tinyConfig(), 5);
    const params = llamaParameters(model);
    const objective = sftObjective(tinyConfig());
    const before = maskedTokenAccuracy(model, data);
    const config: TrainerConfig = { ...defaultTrainerConfig, steps: 300, batchSize: 16, lr: 1e-2, warmupSteps: 20, decay: "cosine", minLrRatio: 0.05, seed: 3, adamw: { ...defaultTrainerConfig.adamw, weightDecay: 0 } };
    const result = await train({ params, objective, examples: data, config });
    const after = maskedTokenAccuracy(model, data);
    const first = result.history.slice(0, 5).reduce((a, r) => a + r.loss, 0) / 5;
    const last = result.history.slice(-5).reduce((a, r) => a + r.loss, 0) / 5;
    expect(before).toBeLessThan(0.2);
    expect(after).toBeGreaterThan(0.95);
    expect(last).toBeLessThan(first / 10);
    // The trainer's own accuracy metric (argmax on the masked targets during the step) agrees.
    expect(result.history.at(-1)!.metrics.accuracy).toBeGreaterThan(0.95);
    model.dispose();
  });

  it("accumulating 4 micro-batches of 2 gives the gradient (and the step) of one batch of 8", async () => {
    const data = keyValueStrings(8, 5, 2);
    // Different lengths, so micro-batches differ in shape from the big batch.
    data[1] = { ids: data[1].ids.slice(0, 7), lossMask: data[1].lossMask!.slice(0, 7) };
    data[6] = { ids: [...data[6].ids, 5, 6, 7], lossMask: [...data[6].lossMask!, 1, 1, 1] };
    const model = LlamaModel.random(tinyConfig(), 9);
    const params = llamaParameters(model);
    const objective = sftObjective(tinyConfig());
    const weight = objective.weight(data);
    const whole = computeLocalGradients(params, objective, [data], weight);
    const micro = [data.slice(0, 2), data.slice(2, 4), data.slice(4, 6), data.slice(6, 8)];
    const accumulated = computeLocalGradients(params, objective, micro, weight);
    expect(Math.abs(whole.lossSum - accumulated.lossSum) / whole.lossSum).toBeLessThan(1e-6);
    expect(maxAbsDiff(whole.grads, accumulated.grads)).toBeLessThanOrEqual(1e-6);
    // A wrong normaliser (mean per micro-batch, then summed) would differ by far more than that.
    const perMicroMean = computeLocalGradients(params, objective, [micro[0]], objective.weight(micro[0]));
    const part = computeLocalGradients(params, objective, [micro[0]], weight);
    expect(maxAbsDiff(perMicroMean.grads, part.grads)).toBeGreaterThan(1e-4);

    // And through the trainer: batchSize 8 × gradAccum 1 vs batchSize 2 × gradAccum 4, same data order. Adam divides
    // each gradient element by its own running magnitude, which amplifies float rounding on near-zero elements, so
    // the weights are compared against the size of the update itself: ≤ 1% of it (a wrong normaliser or a wrong
    // data order moves weights by the whole update).
    const initial = LlamaModel.random(tinyConfig(), 9);
    const runWith = async (batchSize: number, gradAccum: number): Promise<{ model: LlamaModel; losses: number[] }> => {
      const m = LlamaModel.random(tinyConfig(), 9);
      const base: TrainerConfig = { ...defaultTrainerConfig, steps: 3, batchSize, gradAccum, lr: 1e-3, shuffle: false, seed: 1 };
      const r = await train({ params: llamaParameters(m), objective: sftObjective(tinyConfig()), examples: data, config: base });
      return { model: m, losses: r.history.map((h) => h.loss) };
    };
    const big = await runWith(8, 1);
    const small = await runWith(2, 4);
    big.losses.forEach((l, i) => expect(Math.abs(l - small.losses[i]) / l).toBeLessThan(1e-6));
    const update = maxAbsDiff(weightsOf(big.model), weightsOf(initial));
    expect(update).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(weightsOf(big.model), weightsOf(small.model))).toBeLessThanOrEqual(0.01 * update);
    for (const m of [initial, big.model, small.model]) m.dispose();
    model.dispose();
  });

  it("two gradient threads give the gradient of one (same data, summed in shard order)", async () => {
    const data = keyValueStrings(12, 6, 4);
    const model = LlamaModel.random(tinyConfig(), 13);
    const params = llamaParameters(model);
    const objective = sftObjective(tinyConfig());
    const weight = objective.weight(data);
    const single = computeLocalGradients(params, objective, [data.slice(0, 6), data.slice(6)], weight);
    const source = await ParallelGradientSource.create({
      params,
      objective,
      threads: 2,
      replica: { module: siblingModule(new URL("../../src/train/parallel.ts", import.meta.url).href, "sft-replica"), args: { config: tinyConfig(), weights: LlamaModel.random(tinyConfig(), 99).getWeights() } },
    });
    try {
      const parallel = await source.compute([data.slice(0, 6), data.slice(6)], weight);
      expect(Math.abs(parallel.lossSum - single.lossSum) / single.lossSum).toBeLessThan(1e-6);
      expect(parallel.tokens).toBe(single.tokens);
      // The worker's replica started from other weights: equality proves the weights were synchronised.
      expect(maxAbsDiff(parallel.grads, single.grads)).toBeLessThanOrEqual(1e-6);
    } finally {
      await source.close();
      model.dispose();
    }
  });

  it("data order is a pure function of (seed, position): every epoch is a permutation, seeds differ", () => {
    const a = new DataOrder(10, 7);
    const b = new DataOrder(10, 7);
    const c = new DataOrder(10, 8);
    const stream = a.slice(0, 30);
    expect(b.slice(0, 30)).toEqual(stream);
    expect(c.slice(0, 30)).not.toEqual(stream);
    for (let e = 0; e < 3; e++) expect([...stream.slice(e * 10, e * 10 + 10)].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    expect(stream.slice(0, 10)).not.toEqual(stream.slice(10, 20));
    // Reading from the middle (a resumed run) gives the same examples.
    expect(new DataOrder(10, 7).slice(17, 8)).toEqual(stream.slice(17, 25));
  });
});
