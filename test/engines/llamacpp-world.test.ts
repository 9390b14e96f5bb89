/**
 * The built-in world model exported to GGUF (F32, by src/gguf's writer) and run by llama.cpp through the llamacpp
 * engine, against the embedded engine on the original folder: the same tokens, the same teacher-forced next-token
 * argmax (issue 15: ≥ 99% over 2,000 tokens) and the same greedy answers on 50 held-out problems (≥ 95%).
 * llama.cpp keeps K and V in F16, so log-probs differ slightly (measured: max 0.025 over 2,925 positions, argmax equal at all of them, 50/50 greedy answers equal).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedEngine } from "../../src/engines/embedded/engine.js";
import type { Engine } from "../../src/engines/engine.js";
import { openEngine } from "../../src/engines/factory.js";
import { LlamaCppEngine } from "../../src/engines/llamacpp/engine.js";
import { extractAnswer } from "../../src/grade/extract.js";
import { writeGgufFromFolder } from "../../src/gguf/index.js";
import { paperPrompt } from "../../src/sampling/prompts.js";
import { generateProblem, heldoutProblems } from "../../src/world/expression.js";
import { generateTrace } from "../../src/world/traces.js";
import { repoRoot, tempDir } from "../helpers.js";

const folder = join(repoRoot, "models", "world-base");
let gguf: string;
let embedded: EmbeddedEngine;
let llama: LlamaCppEngine;

/** Reference traces of training problems in the paper's prompt format, as the model was trained to read them. */
function traces(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const p = generateProblem("train", 1 + (i % 5), 21, i);
    return paperPrompt(p.question).prompt + generateTrace(p, 21, i).response;
  });
}

beforeAll(async () => {
  gguf = join(tempDir("ts-llamacpp-world-"), "world-base.f32.gguf");
  await writeGgufFromFolder(folder, gguf, { type: "f32" });
  embedded = await EmbeddedEngine.load(folder, { workers: 0 });
  llama = await LlamaCppEngine.open(gguf, { threads: 1, sequences: 25, contextTokens: 1024 });
}, 60_000);

afterAll(async () => {
  await llama?.close();
  await embedded?.close();
});

describe("world-base as an F32 GGUF in llama.cpp", () => {
  it("reads the GGUF's tokenizer, chat template and context as the folder's", async () => {
    for (const text of traces(10)) expect(await llama.tokenize(text)).toEqual(await embedded.tokenize(text));
    const messages = [{ role: "user" as const, content: "Compute 2+3." }];
    expect(await llama.applyChatTemplate(messages)).toBe(await embedded.applyChatTemplate(messages));
    const caps = await llama.capabilities();
    expect(caps).toMatchObject({ promptLogprobs: true, fullDistributions: true, maxTopK: 624, prefixReuse: true, chatTemplate: true });
  });

  it("agrees with the embedded engine on the teacher-forced next-token argmax at ≥ 99% of 2,000+ positions", async () => {
    let positions = 0;
    let agree = 0;
    let maxDiff = 0;
    for (const text of traces(10)) {
      const ids = await embedded.tokenize(text);
      const request = { prefix: ids.slice(0, 1), continuations: [ids.slice(1)], distributions: "topk" as const, topK: 1 };
      const [a, b] = [(await embedded.score(request)).continuations[0], (await llama.score(request)).continuations[0]];
      expect(b.tokenIds).toEqual(a.tokenIds);
      a.topLogprobs!.forEach((row, j) => {
        positions++;
        if (row[0][0] === b.topLogprobs![j][0][0]) agree++;
        maxDiff = Math.max(maxDiff, Math.abs(a.logprobs[j] - b.logprobs[j]));
      });
    }
    expect(positions).toBeGreaterThanOrEqual(2000);
    expect(agree / positions).toBeGreaterThanOrEqual(0.99);
    // Close, not equal: F16 K/V in llama.cpp (a wrong weight layout would be far off).
    expect(maxDiff).toBeLessThan(0.1);
  }, 60_000);

  it("gives the same greedy answers on 50 held-out problems (≥ 95%)", async () => {
    const problems = heldoutProblems(10);
    expect(problems).toHaveLength(50);
    const answers = async (engine: Engine): Promise<Array<string | null>> =>
      Promise.all(
        problems.map(async (p) => {
          const { prompt, stop } = paperPrompt(p.question);
          const r = await engine.generate({ prompt, stop, n: 1, seed: 0, temperature: 0, topP: 1, topK: 0, maxTokens: 768 });
          return extractAnswer(r.completions[0].text);
        }),
      );
    const [a, b] = [await answers(embedded), await answers(llama)];
    const same = a.filter((x, i) => x !== null && x === b[i]).length;
    expect(same / problems.length).toBeGreaterThanOrEqual(0.95);
  }, 120_000);

  it("opens through the engine factory by file name", async () => {
    const engine = await openEngine({ kind: "llamacpp", model: gguf }, { workers: 1 });
    try {
      expect(engine.identity).toMatchObject({ name: gguf, engine: "llamacpp" });
      expect(engine.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await engine.close();
    }
  });
});
