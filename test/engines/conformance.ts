/**
 * The engine-conformance suite: one list of calls through the Engine interface (tokenize, detokenize, seeded
 * generation, scoring with windows and top-k / full distributions) whose answers are checked for what every
 * engine must satisfy, and returned so that two engines over the same weights can be compared for equality.
 */
import { expect } from "vitest";
import type { Engine, GenerateRequest, ScoreRequest } from "../../src/engines/engine.js";

const texts = ["The quick brown fox", "x = 3 + 4, so x is 7.", ""];

export async function runConformance(engine: Engine): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const caps = await engine.capabilities();
  expect(caps.promptLogprobs).toBe(true);
  expect(caps.maxContextTokens).toBeGreaterThan(16);

  for (const [i, t] of texts.entries()) {
    const withSpecials = await engine.tokenize(t);
    const plain = await engine.tokenize(t, { addSpecialTokens: false });
    expect(withSpecials.length).toBeGreaterThanOrEqual(plain.length);
    expect(await engine.detokenize(plain)).toBe(t);
    out[`tokenize ${i}`] = { withSpecials, plain, shown: await engine.detokenize(withSpecials, { skipSpecialTokens: false }) };
  }

  if (caps.chatTemplate) out["chat template"] = await engine.applyChatTemplate([{ role: "user", content: "What is 3 + 4?" }]);

  const prompt = await engine.tokenize("Once upon a time");
  const base: GenerateRequest = { prompt: "Once upon a time", n: 3, seed: 7, temperature: 0.9, topP: 1, topK: 0, maxTokens: 8 };
  const variants: Record<string, GenerateRequest> = {
    sampled: base,
    "same seed again": base,
    "other seed": { ...base, seed: 8 },
    "token-id prompt": { ...base, prompt },
    greedy: { ...base, n: 1, temperature: 0 },
    "top-k and top-p": { ...base, topK: 5, topP: 0.8, seed: 3 },
    "stop string": { ...base, n: 4, maxTokens: 12, stop: [" "], seed: 11 },
  };
  for (const [name, req] of Object.entries(variants)) {
    const r = await engine.generate(req);
    expect(r.completions.map((c) => c.index)).toEqual([...Array(req.n).keys()]);
    expect(r.promptTokens).toBe(prompt.length);
    for (const c of r.completions) {
      expect(c.tokenIds.length).toBeLessThanOrEqual(req.maxTokens);
      if (c.finishReason === "length") expect(c.tokenIds.length).toBe(req.maxTokens);
      if (req.stop) expect(c.text).not.toContain(" ");
    }
    out[`generate ${name}`] = r;
  }
  expect(out["generate same seed again"]).toEqual(out["generate sampled"]);
  expect(out["generate token-id prompt"]).toEqual(out["generate sampled"]);
  expect(out["generate other seed"]).not.toEqual(out["generate sampled"]);

  const prefix = "The answer is";
  const continuations = [" 42 because six times seven", " unknown", " 7"];
  const scores: Record<string, ScoreRequest> = {
    none: { prefix, continuations, distributions: "none" },
    "window 3": { prefix, continuations, distributions: "none", window: 3 },
    "top-5": { prefix, continuations, distributions: "topk", topK: 5 },
    "top-5 window 2, token ids": { prefix: await engine.tokenize(prefix), continuations: await Promise.all(continuations.map((c) => engine.tokenize(c, { addSpecialTokens: false }))), distributions: "topk", topK: 5, window: 2 },
    full: { prefix, continuations: continuations.slice(0, 2), distributions: "full", window: 4 },
  };
  for (const [name, req] of Object.entries(scores)) {
    const r = await engine.score(req);
    for (const c of r.continuations) {
      if (req.window !== undefined) expect(c.tokenIds.length).toBeLessThanOrEqual(req.window);
      expect(c.logprobs.length).toBe(c.tokenIds.length);
      for (const lp of c.logprobs) expect(lp).toBeLessThanOrEqual(0);
      c.topLogprobs?.forEach((row, j) => {
        expect(row.length).toBe(5);
        for (let i = 1; i < row.length; i++) expect(row[i - 1][1]).toBeGreaterThanOrEqual(row[i][1]);
        // The given token is in the top-k exactly when its log-prob reaches the k-th.
        const own = row.find(([id]) => id === c.tokenIds[j]);
        if (own) expect(own[1]).toBe(c.logprobs[j]);
        else expect(c.logprobs[j]).toBeLessThanOrEqual(row[4][1]);
      });
      c.fullLogprobs?.forEach((row, j) => {
        expect(row[c.tokenIds[j]]).toBe(Math.fround(c.logprobs[j]));
        const mass = row.reduce((a, x) => a + Math.exp(x), 0);
        expect(mass).toBeCloseTo(1, 3);
      });
    }
    out[`score ${name}`] = r;
  }
  const windowed = out["score window 3"] as { continuations: Array<{ logprobs: number[] }> };
  const whole = out["score none"] as { continuations: Array<{ logprobs: number[] }> };
  windowed.continuations.forEach((c, i) => expect(c.logprobs).toEqual(whole.continuations[i].logprobs.slice(0, 3)));
  return out;
}
