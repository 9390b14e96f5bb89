import { beforeAll, describe, expect, it } from "vitest";
import { initTf } from "../../src/model/tf.js";
import { LlamaModel } from "../../src/model/llama.js";
import { llamaParameters } from "../../src/train/llama.js";
import { ParallelGradientSource } from "../../src/train/parallel.js";
import { defaultTrainerConfig, train } from "../../src/train/trainer.js";
import { pairwiseObjective, withReference } from "./pairwise.js";
import { keyValueStrings, tinyConfig } from "./tasks.js";

describe("a pairwise preference loss plugs into the trainer unchanged", () => {
  beforeAll(async () => {
    await initTf("wasm");
  });

  it("sigmoid DPO with precomputed reference log-probs learns to prefer the chosen responses (2 gradient threads)", async () => {
    const good = keyValueStrings(16, 6, 5);
    const bad = keyValueStrings(16, 6, 6);
    // Same prompt (key), different response: chosen is `good`'s value, rejected is `bad`'s value under good's key.
    const pairs = good.map((g, i) => ({ chosen: g, rejected: { ids: [...g.ids.slice(0, 4), ...bad[i].ids.slice(4)], lossMask: g.lossMask } }));
    const model = LlamaModel.random(tinyConfig(), 3);
    const reference = LlamaModel.random(tinyConfig(), 3, { trainable: false });
    const data = withReference(reference, pairs);
    const objective = pairwiseObjective(tinyConfig(), 0.5);
    const params = llamaParameters(model);
    const source = await ParallelGradientSource.create({
      params,
      objective,
      threads: 2,
      replica: { module: new URL("./pairwise.ts", import.meta.url).href, args: { config: tinyConfig(), weights: model.getWeights(), beta: 0.5 } },
    });
    try {
      const result = await train({ params, objective, examples: data, gradientSource: source, config: { ...defaultTrainerConfig, steps: 40, batchSize: 8, lr: 3e-3, seed: 2 } });
      const first = result.history[0];
      const last = result.history.at(-1)!;
      // At step 1 the policy equals the reference: every margin is 0 and the loss is log 2.
      expect(first.loss).toBeCloseTo(Math.log(2), 5);
      expect(last.loss).toBeLessThan(0.1);
      expect(last.metrics.preferred).toBe(1);
    } finally {
      await source.close();
      model.dispose();
      reference.dispose();
    }
  });
});
